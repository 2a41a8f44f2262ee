"""Primary storage pools: create, update, delete and the maintenance requests (their jobs only answer)."""

from __future__ import annotations

from typing import Any

from virga.context import Ctx
from virga.jobs.pending import Pending
from virga.models import Cluster, Pod, StoragePool, Zone, utcnow
from virga.services.poolrelease import release_on_hosts
from virga.services.simplejobs import echo_job, pending
from virga.services.states import PoolState, transition


def create_pool(ctx: Ctx, zone: Zone, pod: Pod | None, cluster: Cluster | None, fields: dict[str, Any]) -> StoragePool:
    """Record a validated primary storage pool (Up)."""
    pool = StoragePool(
        zone_id=zone.id or 0,
        pod_id=pod.id if pod else None,
        cluster_id=cluster.id if cluster else None,
        state=PoolState.UP,
        **fields,
    )
    ctx.db.add(pool)
    ctx.db.flush()
    return pool


def update_pool(
    ctx: Ctx, pool: StoragePool, *, enabled: bool | None, tags: str | None, capacity: int | None, name: str | None
) -> StoragePool:
    """Change a pool's enabled state, tags, capacity or name (already validated)."""
    if enabled is not None:
        transition(pool, "enable" if enabled else "disable")
    if tags is not None:
        pool.tags = tags
    if capacity is not None:
        pool.capacitybytes = capacity
    if name:
        pool.name = name
    ctx.db.add(pool)
    return pool


async def delete_pool(ctx: Ctx, pool: StoragePool) -> dict[str, Any]:
    """Release an empty pool on every host that reaches it, then mark it removed."""
    await release_on_hosts(ctx.app, ctx.db, pool)
    transition(pool, "remove")
    pool.removed = utcnow()
    ctx.db.add(pool)
    return {"success": True}


def request_maintenance(ctx: Ctx, pool: StoragePool) -> Pending:
    """Stop placing volumes on the pool (Maintenance) and hand over the job that answers."""
    transition(pool, "maintain")
    ctx.db.add(pool)
    return pending("StoragePool", pool)


def request_cancel_maintenance(ctx: Ctx, pool: StoragePool) -> Pending:
    """Return the pool to service (Up) and hand over the job that answers."""
    transition(pool, "cancel_maintenance")
    ctx.db.add(pool)
    return pending("StoragePool", pool)


enable_maintenance_job = echo_job("enableStorageMaintenance", StoragePool)
cancel_maintenance_job = echo_job("cancelStorageMaintenance", StoragePool)
