"""Placement: pick a host with room (over-provisioning, tags, states) and a primary pool."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, literal, or_
from sqlmodel import Session, select
from virga.errors import InsufficientCapacity
from virga.models import Cluster, Host, Pod, StoragePool, Zone
from virga.services.bootstrap import setting


@dataclass(frozen=True)
class Need:
    """What a VM needs from a host."""

    zone_id: int
    cpu_mhz: int
    memory_bytes: int
    hosttags: str = ""
    hypervisor: str | None = None
    cluster_id: int | None = None


def _tag_match(column: object, tags: str) -> list[object]:
    """SQL conditions: every tag in a comma list appears in the column's comma list."""
    wanted = [t.strip() for t in tags.split(",") if t.strip()]
    padded = literal(",") + func.replace(column, " ", "") + literal(",")
    return [padded.like(f"%,{t},%") for t in wanted]


def host_candidates(s: Session, need: Need, exclude: set[int] = frozenset(), limit: int = 8,  # type: ignore[assignment]
                    only: int | None = None) -> list[Host]:
    """Hosts that can take the VM now, least memory-allocated first."""
    cpu_g = float(setting(s, "cpu.overprovisioning.factor", "1.0"))
    mem_g = float(setting(s, "mem.overprovisioning.factor", "1.0"))
    cpu_f = func.coalesce(Cluster.cpuovercommitratio, cpu_g)
    mem_f = func.coalesce(Cluster.memoryovercommitratio, mem_g)
    stmt = (
        select(Host).join(Cluster, Cluster.id == Host.cluster_id).join(Pod, Pod.id == Host.pod_id)
        .join(Zone, Zone.id == Host.zone_id)
        .where(
            Host.zone_id == need.zone_id, Host.state == "Up", Host.resourcestate == "Enabled",
            Host.removed == None, Cluster.allocationstate == "Enabled",  # noqa: E711
            Pod.allocationstate == "Enabled", Zone.allocationstate == "Enabled",
            Host.cpunumber * Host.cpuspeed * cpu_f - Host.cpuallocated >= need.cpu_mhz,
            Host.memorytotal * mem_f - Host.memoryallocated >= need.memory_bytes,
            *_tag_match(Host.hosttags, need.hosttags),
        )
        .order_by(Host.memoryallocated, Host.id).limit(limit + len(exclude))
    )
    if need.hypervisor:
        stmt = stmt.where(Host.hypervisor == need.hypervisor)
    if need.cluster_id:
        stmt = stmt.where(Host.cluster_id == need.cluster_id)
    if only is not None:
        stmt = stmt.where(Host.id == only)
    return [h for h in s.exec(stmt) if h.id not in exclude][:limit]


def host_fits(s: Session, host: Host, need: Need) -> bool:
    """Whether one particular host can take the VM now."""
    return bool(host_candidates(s, need, limit=1, only=host.id))


def choose_host(s: Session, need: Need, prefer: int | None = None, exclude: set[int] = frozenset()) -> Host:  # type: ignore[assignment]
    """The preferred host when it fits, else the least-loaded fitting host; 533 when none fits."""
    if prefer is not None and prefer not in exclude:
        host = s.get(Host, prefer)
        if host is not None and host_fits(s, host, need):
            return host
    found = host_candidates(s, need, exclude, limit=1)
    if not found:
        raise InsufficientCapacity(
            f"Unable to create a deployment for the VM: no host in the zone has {need.cpu_mhz} MHz of CPU and "
            f"{need.memory_bytes // 2**20} MB of memory free" + (f" with host tags {need.hosttags}"
                                                                 if need.hosttags else ""))
    return found[0]


def choose_pool(s: Session, host: Host, size: int, tags: str = "", exclude: set[int] = frozenset()) -> StoragePool:  # type: ignore[assignment]
    """A primary pool reachable from the host with room for a volume; 533 when none has room."""
    factor = StoragePool.overprovisionfactor
    stmt = (
        select(StoragePool)
        .where(
            StoragePool.zone_id == host.zone_id, StoragePool.state == "Up", StoragePool.removed == None,  # noqa: E711
            or_(StoragePool.cluster_id == host.cluster_id,
                and_(StoragePool.scope == "ZONE", or_(StoragePool.hypervisor == None,  # noqa: E711
                                                      StoragePool.hypervisor == host.hypervisor))),
            or_(StoragePool.capacitybytes == 0,
                StoragePool.capacitybytes * factor - StoragePool.allocatedbytes >= size),
            *_tag_match(StoragePool.tags, tags),
        )
        .order_by(StoragePool.allocatedbytes, StoragePool.id)
    )
    for pool in s.exec(stmt):
        if pool.id not in exclude:
            return pool
    raise InsufficientCapacity(
        f"Unable to find a primary storage pool for host {host.name} with {size // 2**30} GB free"
        + (f" and storage tags {tags}" if tags else ""))
