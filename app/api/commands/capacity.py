"""listCapacity: CPU, memory, primary and secondary storage and public IPs per zone, pod or cluster."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from virga.api.registry import ADMINS, Param, api
from virga.api.response import list_body
from virga.api.views.capacity import (
    CPU,
    MEMORY,
    NAMES,
    PUBLIC_IP,
    SECONDARY,
    STORAGE,
    STORAGE_ALLOCATED,
    Key,
    capacity_view,
)
from virga.context import Ctx
from virga.errors import InvalidParameter
from virga.models import Cluster, Host, ImageStore, Pod, PublicIpAddress, StoragePool, VlanIpRange, Volume, Zone
from virga.services.bootstrap import setting
from virga.services.states import IpState


def _scope(ctx: Ctx) -> tuple[str, dict[str, int]]:
    """The level rows are reported at (zone, pod or cluster) and the id filters."""
    a = ctx.args
    where: dict[str, int] = {}
    for param, model, column in (
        ("zoneid", Zone, "zone_id"),
        ("podid", Pod, "pod_id"),
        ("clusterid", Cluster, "cluster_id"),
    ):
        if a.get(param):
            where[column] = ctx.get(model, a[param], param).id or 0
    level = "cluster_id" if "cluster_id" in where else "pod_id" if "pod_id" in where else "zone_id"
    return level, where


def _key(row: Any, level: str) -> Key:
    """The (zone, pod, cluster) key of a row at a reporting level."""
    zone = getattr(row, "zone_id", None)
    pod = getattr(row, "pod_id", None) if level in ("pod_id", "cluster_id") else None
    cluster = getattr(row, "cluster_id", None) if level == "cluster_id" else None
    return zone, pod, cluster


def _hosts(ctx: Ctx, level: str, where: dict[str, int]) -> dict[Key, list[float]]:
    """CPU and memory [cpu total, cpu used, mem total, mem used] per key, over-provisioning applied."""
    cpu_g = float(setting(ctx.db, "cpu.overprovisioning.factor", "1.0"))
    mem_g = float(setting(ctx.db, "mem.overprovisioning.factor", "1.0"))
    cols = [
        Host.zone_id,
        Host.pod_id if level != "zone_id" else None,
        Host.cluster_id if level == "cluster_id" else None,
    ]
    groups: list[Any] = [c for c in cols if c is not None]  # the key columns (mypy sees a model column as its value)
    stmt: Any = (  # a Core select: sqlmodel's Session.exec is typed for its own select only
        sa_select(
            *groups,
            func.sum(Host.cpunumber * Host.cpuspeed * func.coalesce(Cluster.cpuovercommitratio, cpu_g)),
            func.sum(Host.cpuallocated),
            func.sum(Host.memorytotal * func.coalesce(Cluster.memoryovercommitratio, mem_g)),
            func.sum(Host.memoryallocated),
        )
        .join(Cluster, col(Cluster.id) == Host.cluster_id)
        .where(col(Host.removed) == None, col(Host.type) == "Routing")
        .group_by(*groups)
    )
    for column, value in where.items():
        stmt = stmt.where(getattr(Host, column) == value)
    out: dict[Key, list[float]] = {}
    for row in ctx.db.exec(stmt):
        ids = list(row[: len(groups)]) + [None] * (3 - len(groups))
        out[(ids[0], ids[1], ids[2])] = [float(v or 0) for v in row[len(groups) :]]
    return out


def _pools(ctx: Ctx, level: str, where: dict[str, int]) -> dict[Key, list[float]]:
    """Primary storage [total, used, allocatable total, allocated] per key."""
    used_by_pool = dict(
        ctx.db.exec(
            select(col(Volume.pool_id), func.sum(col(Volume.physicalsize)))
            .where(col(Volume.removed) == None)
            .group_by(col(Volume.pool_id))
        ).all()
    )
    stmt = select(StoragePool).where(StoragePool.removed == None)
    for column, value in where.items():
        stmt = stmt.where(getattr(StoragePool, column) == value)
    out: dict[Key, list[float]] = {}
    for p in ctx.db.exec(stmt):
        acc = out.setdefault(_key(p, level), [0.0, 0.0, 0.0, 0.0])
        acc[0] += p.capacitybytes
        acc[1] += max(p.usedbytes, int(used_by_pool.get(p.id) or 0))
        acc[2] += p.capacitybytes * p.overprovisionfactor
        acc[3] += p.allocatedbytes
    return out


def _zone_rows(ctx: Ctx, where: dict[str, int]) -> list[tuple[int, Key, float, float]]:
    """Zone-only figures: public IPs and secondary storage."""
    rows: list[tuple[int, Key, float, float]] = []
    ips = (
        select(
            col(PublicIpAddress.zone_id),
            func.count(),
            func.sum(case((col(PublicIpAddress.state) != IpState.FREE, 1), else_=0)),
        )
        .join(VlanIpRange, col(VlanIpRange.id) == PublicIpAddress.vlan_id)
        .where(VlanIpRange.removed == None, VlanIpRange.forvirtualnetwork == True)  # noqa:E712
        .group_by(col(PublicIpAddress.zone_id))
    )
    stores = (
        select(ImageStore.zone_id, func.sum(ImageStore.capacitybytes), func.sum(ImageStore.usedbytes))
        .where(ImageStore.removed == None)
        .group_by(col(ImageStore.zone_id))
    )
    if "zone_id" in where:
        ips = ips.where(PublicIpAddress.zone_id == where["zone_id"])
        stores = stores.where(ImageStore.zone_id == where["zone_id"])
    for zone_id, total, used in ctx.db.exec(ips):
        rows.append((PUBLIC_IP, (zone_id, None, None), float(total or 0), float(used or 0)))
    for store_zone, total, used in ctx.db.exec(stores):
        if store_zone is not None:
            rows.append((SECONDARY, (store_zone, None, None), float(total or 0), float(used or 0)))
    return rows


@api(
    "listCapacity",
    "Lists capacity per zone, pod or cluster",
    "capacity",
    [
        Param("zoneid", "uuid", description="the zone"),
        Param("podid", "uuid", description="the pod"),
        Param("clusterid", "uuid", description="the cluster"),
        Param(
            "type",
            "integer",
            description="0 memory, 1 CPU, 2 storage used, 3 storage allocated, 4 public IPs, 6 secondary storage",
        ),
        Param("sortby", description="usage: highest percentused first"),
        Param("fetchlatest", "boolean", description="unused: figures are always current"),
    ],
    roles=ADMINS,
    paged=True,
)
def list_capacity(ctx: Ctx) -> dict[str, Any]:
    """Capacity rows computed from the live data."""
    a = ctx.args
    if a.type is not None and a.type not in NAMES:
        raise InvalidParameter(f"Parameter type: {a.type} is not one of {', '.join(map(str, sorted(NAMES)))}")
    if a.sortby and a.sortby != "usage":
        raise InvalidParameter("Parameter sortby must be usage")
    level, where = _scope(ctx)
    figures: list[tuple[int, Key, float, float]] = []
    for key, (cpu_t, cpu_u, mem_t, mem_u) in _hosts(ctx, level, where).items():
        figures += [(MEMORY, key, mem_t, mem_u), (CPU, key, cpu_t, cpu_u)]
    for key, (total, used, alloc_t, alloc_u) in _pools(ctx, level, where).items():
        figures += [(STORAGE, key, total, used), (STORAGE_ALLOCATED, key, alloc_t, alloc_u)]
    if level == "zone_id":
        figures += _zone_rows(ctx, where)
    if a.type is not None:
        figures = [f for f in figures if f[0] == a.type]
    if a.sortby == "usage":
        figures.sort(key=lambda f: -(f[3] / f[2] if f[2] else 0.0))
    else:
        figures.sort(key=lambda f: (f[1][0] or 0, f[1][1] or 0, f[1][2] or 0, f[0]))
    size = a.pagesize or len(figures) or 1
    start = ((a.page or 1) - 1) * size if size != -1 else 0
    page = figures[start : start + size] if size != -1 else figures
    return list_body("capacity", [capacity_view(ctx, *f) for f in page], len(figures))
