"""The KVM/QEMU driver, through libvirt (qemu:///system, qemu+ssh://, test:///)."""

from __future__ import annotations

from virga.drivers.libvirt.driver import LibvirtDriver

__all__ = ["LibvirtDriver"]
