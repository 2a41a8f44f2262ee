"""A throwaway network namespace joined to the host by a veth pair: an isolated address for a test NFS server."""

from __future__ import annotations

from virga.appliance.storage.netns import NetnsLink

__all__ = ["NetnsLink"]
