"""Placement: pick a host with room (over-provisioning, tags, states) and a primary pool."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, func, literal, or_
from sqlmodel import Session, col, select
from virga.db import memo
from virga.errors import InsufficientCapacity
from virga.models import Cluster, Configuration, Host, Pod, StoragePool, Zone


@dataclass(frozen=True)
class Need:
    """What a VM needs from a host."""

    zone_id: int
    cpu_mhz: int
    memory_bytes: int
    hosttags: str = ""
    hypervisor: str | None = None
    cluster_id: int | None = None


def _tag_terms(column: Any, ntags: int) -> list[Any]:
    """SQL conditions: tag i (bound as tag{i}) appears in the column's comma list, ignoring case.

    ILIKE, not LIKE: SQLite's LIKE ignores ASCII case, PostgreSQL's does not (SQLite renders ILIKE as
    lower() LIKE lower())."""
    padded = literal(",") + func.replace(column, " ", "") + literal(",")
    return [padded.ilike(bindparam(f"tag{i}")) for i in range(ntags)]


def _tag_params(tags: str) -> dict[str, str]:
    """The bind values of _tag_terms for a comma list of wanted tags."""
    wanted = [t.strip() for t in tags.split(",") if t.strip()]
    return {f"tag{i}": f"%,{tag},%" for i, tag in enumerate(wanted)}


FACTORS = select(Configuration.name, Configuration.value).where(
    col(Configuration.name).in_(("cpu.overprovisioning.factor", "mem.overprovisioning.factor"))
)
_CANDIDATES: dict[tuple[int, bool, bool, bool], Any] = {}


def _candidates_stmt(ntags: int, hypervisor: bool, cluster: bool, only: bool) -> Any:
    """The host query of one shape, built once with bind parameters (placement runs on every deploy)."""
    key = (ntags, hypervisor, cluster, only)
    if key in _CANDIDATES:
        return _CANDIDATES[key]
    cpu_f = func.coalesce(Cluster.cpuovercommitratio, bindparam("cpu_g"))
    mem_f = func.coalesce(Cluster.memoryovercommitratio, bindparam("mem_g"))
    stmt = (
        select(Host)
        .join(Cluster, col(Cluster.id) == Host.cluster_id)
        .join(Pod, col(Pod.id) == Host.pod_id)
        .join(Zone, col(Zone.id) == Host.zone_id)
        .where(
            Host.zone_id == bindparam("zone_id"),
            Host.state == "Up",
            Host.resourcestate == "Enabled",
            Host.removed == None,
            Cluster.allocationstate == "Enabled",
            Pod.allocationstate == "Enabled",
            Zone.allocationstate == "Enabled",
            Host.cpunumber * Host.cpuspeed * cpu_f - Host.cpuallocated >= bindparam("cpu"),
            Host.memorytotal * mem_f - Host.memoryallocated >= bindparam("memory"),
            *_tag_terms(Host.hosttags, ntags),
        )
        .order_by(col(Host.memoryallocated), col(Host.id))
        .limit(bindparam("limit"))
    )
    if hypervisor:
        stmt = stmt.where(Host.hypervisor == bindparam("hypervisor"))
    if cluster:
        stmt = stmt.where(Host.cluster_id == bindparam("cluster_id"))
    if only:
        stmt = stmt.where(Host.id == bindparam("only"))
    _CANDIDATES[key] = stmt
    return stmt


def host_candidates(
    s: Session,
    need: Need,
    exclude: AbstractSet[int] = frozenset(),
    limit: int = 8,
    only: int | None = None,
) -> list[Host]:
    """Hosts that can take the VM now, least memory-allocated first."""
    tags = _tag_params(need.hosttags)
    stmt = _candidates_stmt(len(tags), bool(need.hypervisor), bool(need.cluster_id), only is not None)
    factors = memo(s, FACTORS, lambda: dict(s.exec(FACTORS).all()))
    params: dict[str, Any] = {
        "cpu_g": float(factors.get("cpu.overprovisioning.factor", "1.0")),
        "mem_g": float(factors.get("mem.overprovisioning.factor", "1.0")),
        "zone_id": need.zone_id,
        "cpu": need.cpu_mhz,
        "memory": need.memory_bytes,
        "limit": limit + len(exclude),
        "hypervisor": need.hypervisor,
        "cluster_id": need.cluster_id,
        "only": only,
        **tags,
    }
    return [h for h in s.exec(stmt, params=params) if h.id not in exclude][:limit]


def host_fits(s: Session, host: Host, need: Need) -> bool:
    """Whether one particular host can take the VM now."""
    return bool(host_candidates(s, need, limit=1, only=host.id))


def choose_host(s: Session, need: Need, prefer: int | None = None, exclude: AbstractSet[int] = frozenset()) -> Host:
    """The preferred host when it fits, else the least-loaded fitting host; 533 when none fits."""
    if prefer is not None and prefer not in exclude:
        host = s.get(Host, prefer)
        if host is not None and host_fits(s, host, need):
            return host
    found = host_candidates(s, need, exclude, limit=1)
    if not found:
        raise InsufficientCapacity(
            f"Unable to create a deployment for the VM: no host in the zone has {need.cpu_mhz} MHz of CPU and "
            f"{need.memory_bytes // 2**20} MB of memory free"
            + (f" with host tags {need.hosttags}" if need.hosttags else "")
        )
    return found[0]


_POOLS: dict[int, Any] = {}


def _pools_stmt(ntags: int) -> Any:
    """The primary pool query for a number of storage tags, built once with bind parameters."""
    if ntags in _POOLS:
        return _POOLS[ntags]
    stmt = (
        select(StoragePool)
        .where(
            StoragePool.zone_id == bindparam("zone_id"),
            StoragePool.state == "Up",
            StoragePool.removed == None,
            or_(
                col(StoragePool.cluster_id) == bindparam("cluster_id"),
                and_(
                    col(StoragePool.scope) == "ZONE",
                    or_(
                        col(StoragePool.hypervisor) == None,
                        col(StoragePool.hypervisor) == bindparam("hypervisor"),
                    ),
                ),
            ),
            or_(
                col(StoragePool.capacitybytes) == 0,
                StoragePool.capacitybytes * StoragePool.overprovisionfactor - StoragePool.allocatedbytes
                >= bindparam("size"),
            ),
            *_tag_terms(StoragePool.tags, ntags),
        )
        .order_by(col(StoragePool.allocatedbytes), col(StoragePool.id))
    )
    _POOLS[ntags] = stmt
    return stmt


def choose_pool(
    s: Session, host: Host, size: int, tags: str = "", exclude: AbstractSet[int] = frozenset()
) -> StoragePool:
    """A primary pool reachable from the host with room for a volume; 533 when none has room."""
    wanted = _tag_params(tags)
    params = {
        "zone_id": host.zone_id,
        "cluster_id": host.cluster_id,
        "hypervisor": host.hypervisor,
        "size": size,
        **wanted,
    }
    stmt = _pools_stmt(len(wanted))
    for pool in s.exec(stmt, params=params):
        if pool.id not in exclude:
            return pool
    raise InsufficientCapacity(
        f"Unable to find a primary storage pool for host {host.name} with {size // 2**30} GB free"
        + (f" and storage tags {tags}" if tags else "")
    )
