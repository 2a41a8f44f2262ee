"""XenServer / XCP-ng driver over XAPI (the XenAPI package, blocking calls in threads)."""

from __future__ import annotations

from virga.drivers.xenapi.driver import XenAPIDriver

__all__ = ["XenAPIDriver"]
