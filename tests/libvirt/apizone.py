"""A KVM cluster on this machine's libvirt, added through the API (it lives with the boot benchmark)."""

from __future__ import annotations

from bench.support.kvm import KvmSite, kvm_site, pool_name

__all__ = ["KvmSite", "kvm_site", "pool_name"]
