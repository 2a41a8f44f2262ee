"""vSphere (vCenter / ESXi) driver through pyvmomi."""

from __future__ import annotations

from virga.drivers.vmware.driver import VMwareDriver

__all__ = ["VMwareDriver"]
