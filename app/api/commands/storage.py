"""Primary storage pools: parameters and validation (the writes are in virga.services.storagepools)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from sqlalchemy import func
from sqlmodel import select
from virga.api.dispatch import Pending
from virga.api.registry import ROOT, Param, api
from virga.api.response import list_body
from virga.api.validators import one_of, positive, tag_list, unique_name
from virga.api.views.storagepools import pool_view
from virga.context import Ctx
from virga.drivers.base import NotSupported, PoolScheme
from virga.drivers.registry import driver_class, hypervisors
from virga.errors import InUse, InvalidParameter
from virga.models import Cluster, Pod, StoragePool, Volume, Zone
from virga.services import storagepools as svc

POOL_TYPES = {"nfs": "NetworkFilesystem", "file": "Filesystem"}


def driver_scheme(scheme: str) -> PoolScheme | None:
    """The pool URL scheme a registered driver brings under this name (the simulator's simulator://), if any."""
    for hv in hypervisors():
        try:
            own = driver_class(hv).pool_scheme
        except NotSupported:  # a driver whose library is not installed brings nothing
            continue
        if own is not None and own.scheme == scheme:
            return own
    return None


def parse_pool_url(url: str) -> tuple[str, str, str]:
    """(type, ipaddress, path) of a primary storage URL: nfs://host/path, file:///path, /path, or a driver's own."""
    if url.startswith("/"):
        url = "file://" + url
    parsed = urlparse(url)
    kind = POOL_TYPES.get(parsed.scheme.lower())
    if kind is None:
        own = driver_scheme(parsed.scheme.lower())
        if own is None:
            raise InvalidParameter(
                f"Parameter url: {url!r} is not nfs://host/path, file:///path, a directory path or simulator://name"
            )
        name = parsed.netloc or parsed.path.strip("/")
        if not name:
            raise InvalidParameter(f"Parameter url: {url!r} names no simulated pool")
        return own.pool_type, "", f"{own.path_prefix}{name}"
    if kind == "NetworkFilesystem" and not parsed.hostname:
        raise InvalidParameter(f"Parameter url: {url!r} has no NFS server host")
    if kind == "Filesystem" and parsed.netloc not in ("", "localhost"):
        raise InvalidParameter(f"Parameter url: {url!r} must be file:///path (a local directory)")
    if not parsed.path.startswith("/") or len(parsed.path) < 2 or ".." in parsed.path.split("/"):
        raise InvalidParameter(f"Parameter url: {url!r} needs an absolute path")
    return kind, parsed.hostname or "", parsed.path.rstrip("/") or "/"


def _placement(ctx: Ctx, scope: str) -> tuple[Zone, Pod | None, Cluster | None, str | None]:
    """Zone, pod, cluster and hypervisor of a new pool, checked against its scope."""
    a = ctx.args
    zone = ctx.get(Zone, a.zoneid, "zoneid")
    if scope == "ZONE":
        if a.clusterid or a.podid:
            raise InvalidParameter("Parameters podid and clusterid must not be given with scope ZONE")
        if not a.hypervisor:
            raise InvalidParameter("Parameter hypervisor is required for a zone-wide pool (scope ZONE)")
        from virga.api.commands.zones import canonical_hypervisor
        from virga.drivers.registry import hypervisors

        if a.hypervisor.lower() not in hypervisors():
            raise InvalidParameter(f"Parameter hypervisor: {a.hypervisor!r} is not one of {', '.join(hypervisors())}")
        return zone, None, None, canonical_hypervisor(a.hypervisor)
    if not a.podid or not a.clusterid:
        raise InvalidParameter(
            f"Missing parameter {'podid' if not a.podid else 'clusterid'}: a cluster-wide pool "
            "needs podid and clusterid"
        )
    pod, cluster = ctx.get(Pod, a.podid, "podid"), ctx.get(Cluster, a.clusterid, "clusterid")
    if pod.zone_id != zone.id:
        raise InvalidParameter(f"Pod {pod.name} is not in zone {zone.name} (parameter podid)")
    if cluster.pod_id != pod.id:
        raise InvalidParameter(f"Cluster {cluster.name} is not in pod {pod.name} (parameter clusterid)")
    return zone, pod, cluster, cluster.hypervisor


@api(
    "createStoragePool",
    "Creates a primary storage pool",
    "storagepool",
    [
        Param("zoneid", "uuid", required=True, description="the zone"),
        Param("name", required=True, description="the name of the pool"),
        Param("url", required=True, description="nfs://host/path, file:///path (local directory) or simulator://name"),
        Param("podid", "uuid", description="the pod (cluster-wide pools)"),
        Param("clusterid", "uuid", description="the cluster (cluster-wide pools)"),
        Param("scope", description="CLUSTER (default) or ZONE"),
        Param("hypervisor", description="the hypervisor of a zone-wide pool"),
        Param("tags", description="comma-separated storage tags"),
        Param("capacitybytes", "long", description="the capacity of the pool in bytes"),
        Param("capacityiops", "long", description="unused"),
        Param("managed", "boolean", description="unused"),
        Param("provider", description="DefaultPrimary"),
        Param("details", "map", description="unused"),
    ],
    roles=ROOT,
)
def create_pool(ctx: Ctx) -> dict[str, Any]:
    """Validate and record a primary storage pool."""
    a = ctx.args
    scope = one_of(a.scope or "CLUSTER", ("CLUSTER", "ZONE"), "scope") or "CLUSTER"
    if a.provider and a.provider != "DefaultPrimary":
        raise InvalidParameter(f"Parameter provider: {a.provider!r} is not supported (DefaultPrimary)")
    kind, ip, path = parse_pool_url(a.url)
    positive(a.capacitybytes, "capacitybytes")
    zone, pod, cluster, hypervisor = _placement(ctx, scope)
    unique_name(ctx, StoragePool, a.name, "storage pool", zone_id=zone.id)
    dup = ctx.db.exec(
        select(StoragePool).where(
            StoragePool.zone_id == zone.id,
            StoragePool.removed == None,
            StoragePool.type == kind,
            StoragePool.ipaddress == ip,
            StoragePool.path == path,
            StoragePool.cluster_id == (cluster.id if cluster else None),
        )
    ).first()
    if dup is not None:
        raise InvalidParameter(f"Parameter url: pool {dup.name} already uses {a.url}")
    own = driver_scheme(urlparse(a.url).scheme.lower())
    capacity = a.capacitybytes or (own.default_bytes if own is not None and own.pool_type == kind else 0)
    fields = {
        "name": a.name,
        "scope": scope,
        "type": kind,
        "url": a.url,
        "path": path,
        "ipaddress": ip,
        "capacitybytes": capacity,
        "tags": tag_list(a.tags),
        "hypervisor": hypervisor,
    }
    return {"storagepool": pool_view(ctx, svc.create_pool(ctx, zone, pod, cluster, fields))}


@api(
    "listStoragePools",
    "Lists primary storage pools",
    "storagepool",
    [
        Param("id", "uuid", description="the pool"),
        Param("name", description="the name"),
        Param("zoneid", "uuid", description="the zone"),
        Param("podid", "uuid", description="the pod"),
        Param("clusterid", "uuid", description="the cluster"),
        Param("ipaddress", description="the NFS server"),
        Param("path", description="the path"),
        Param("scope", description="CLUSTER or ZONE"),
        Param("status", description="the state"),
        Param("hostid", "uuid", description="unused"),
    ],
    roles=ROOT,
    paged=True,
)
def list_pools(ctx: Ctx) -> dict[str, Any]:
    """List primary storage pools."""
    a = ctx.args
    stmt = select(StoragePool)
    for param, model, col in (
        ("zoneid", Zone, StoragePool.zone_id),
        ("podid", Pod, StoragePool.pod_id),
        ("clusterid", Cluster, StoragePool.cluster_id),
    ):
        if a.get(param):
            stmt = stmt.where(col == ctx.get(model, a[param], param).id)
    for param, field in (
        ("ipaddress", StoragePool.ipaddress),
        ("path", StoragePool.path),
        ("scope", StoragePool.scope),
        ("status", StoragePool.state),
    ):
        if a.get(param):
            stmt = stmt.where(field == a[param])
    rows, count = ctx.page(stmt, StoragePool)
    for model, attr in ((Zone, "zone_id"), (Pod, "pod_id"), (Cluster, "cluster_id")):
        ctx.preload(model, {getattr(p, attr) for p in rows})
    return list_body("storagepool", [pool_view(ctx, p) for p in rows], count)


@api(
    "updateStoragePool",
    "Updates a primary storage pool",
    "storagepool",
    [
        Param("id", "uuid", required=True, description="the pool"),
        Param("name", description="new name"),
        Param("tags", "list", description="storage tags (empty to clear)"),
        Param("enabled", "boolean", description="false to stop placing volumes on the pool"),
        Param("capacitybytes", "long", description="new capacity in bytes"),
        Param("capacityiops", "long", description="unused"),
        Param("url", description="unused"),
        Param("details", "map", description="unused"),
    ],
    roles=ROOT,
)
def update_pool(ctx: Ctx) -> dict[str, Any]:
    """Change a pool's tags, capacity, name or enabled state."""
    a = ctx.args
    pool = ctx.get(StoragePool, a.id)
    positive(a.capacitybytes, "capacitybytes")
    if a.capacitybytes is not None and a.capacitybytes < pool.allocatedbytes / max(pool.overprovisionfactor, 1):
        raise InvalidParameter(
            f"Parameter capacitybytes: {a.capacitybytes} is less than what pool {pool.name} "
            f"already holds ({pool.allocatedbytes} bytes allocated)"
        )
    if a.enabled is not None and pool.state not in ("Up", "Disabled"):
        raise InvalidParameter(f"Pool {pool.name} is in {pool.state}; cancel maintenance first (parameter enabled)")
    tags = tag_list(",".join(a.tags)) if a.tags is not None else None
    pool = svc.update_pool(ctx, pool, enabled=a.enabled, tags=tags, capacity=a.capacitybytes, name=a.name)
    return {"storagepool": pool_view(ctx, pool)}


@api(
    "deleteStoragePool",
    "Deletes a primary storage pool",
    "success",
    [
        Param("id", "uuid", required=True, description="the pool"),
        Param("forced", "boolean", description="unused: a pool with volumes is never deleted"),
    ],
    roles=ROOT,
)
async def delete_pool(ctx: Ctx) -> dict[str, Any]:
    """Delete a pool that holds no volume, after the hosts that reach it release it."""
    pool = ctx.get(StoragePool, ctx.args.id)
    n = ctx.db.exec(
        select(func.count()).select_from(Volume).where(Volume.pool_id == pool.id, Volume.removed == None)
    ).one()
    if n:
        raise InUse(f"Storage pool {pool.name} still holds {n} volume(s); delete or migrate them first")
    return await svc.delete_pool(ctx, pool)


@api(
    "enableStorageMaintenance",
    "Puts a primary storage pool into maintenance",
    "storagepool",
    [Param("id", "uuid", required=True, description="the pool")],
    roles=ROOT,
    is_async=True,
)
def enable_maintenance(ctx: Ctx) -> Pending:
    """Stop placing volumes on the pool."""
    pool = ctx.get(StoragePool, ctx.args.id)
    if pool.state not in ("Up", "Disabled", "ErrorInMaintenance"):
        raise InvalidParameter(f"Pool {pool.name} is already in {pool.state}")
    return svc.request_maintenance(ctx, pool)


@api(
    "cancelStorageMaintenance",
    "Takes a primary storage pool out of maintenance",
    "storagepool",
    [Param("id", "uuid", required=True, description="the pool")],
    roles=ROOT,
    is_async=True,
)
def cancel_maintenance(ctx: Ctx) -> Pending:
    """Return the pool to service."""
    pool = ctx.get(StoragePool, ctx.args.id)
    if pool.state not in ("Maintenance", "PrepareForMaintenance", "ErrorInMaintenance"):
        raise InvalidParameter(f"Pool {pool.name} is not in maintenance (it is {pool.state})")
    return svc.request_cancel_maintenance(ctx, pool)
