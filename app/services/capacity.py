"""Capacity: over-provisioning factors, host reservations and the listCapacity figures."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session
from virga.models import Cluster, Host
from virga.services.bootstrap import setting


def overcommit(s: Session, cluster: Cluster | None) -> tuple[float, float]:
    """CPU and memory over-provisioning factors of a cluster (cluster value, else global)."""
    cpu = float(setting(s, "cpu.overprovisioning.factor", "1.0"))
    mem = float(setting(s, "mem.overprovisioning.factor", "1.0"))
    if cluster is not None:
        cpu = cluster.cpuovercommitratio or cpu
        mem = cluster.memoryovercommitratio or mem
    return cpu, mem


def reserve(s: Session, host_id: int, cpu_mhz: int, memory_bytes: int) -> None:
    """Add a VM's CPU and memory to a host's allocation (negative values release)."""
    s.exec(
        update(Host)
        .where(Host.id == host_id)
        .values(  # type: ignore[call-overload]
            cpuallocated=Host.cpuallocated + cpu_mhz, memoryallocated=Host.memoryallocated + memory_bytes
        )
    )
