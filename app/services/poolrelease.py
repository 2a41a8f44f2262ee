"""Releasing a primary pool on the hosts that reach it before the pool is deleted."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import Session, col, select
from virga.drivers.base import DriverError, HostUnreachable
from virga.errors import InternalError
from virga.models import Host, StoragePool
from virga.services.events import record_event
from virga.services.specs import pool_spec

if TYPE_CHECKING:
    from virga.core import VirgaApp

EVENT = "STORAGE.POOL.RELEASE"


def hosts_reaching(s: Session, pool: StoragePool) -> list[Host]:
    """Every managed hypervisor host that can reach a pool (its cluster, or the zone for zone-wide pools)."""
    stmt = select(Host).where(
        Host.zone_id == pool.zone_id,
        Host.removed == None,
        Host.type == "Routing",
    )
    if pool.cluster_id is not None:
        stmt = stmt.where(Host.cluster_id == pool.cluster_id)
    elif pool.hypervisor:
        stmt = stmt.where(Host.hypervisor == pool.hypervisor)
    return list(s.exec(stmt.order_by(col(Host.id))))


def _skipped(s: Session, pool: StoragePool, host: Host, why: str) -> None:
    """Record that a host could not release the pool (it is set up again if the host ever uses it)."""
    record_event(
        s,
        EVENT,
        f"Storage pool {pool.name} was not released on host {host.name}: {why}; "
        "remove its definition there by hand if the host comes back",
        level="WARN",
        resource=pool,
    )


async def release_on_hosts(app: VirgaApp, s: Session, pool: StoragePool) -> list[str]:
    """Ask each Up host reaching the pool to release it; down or unreachable hosts get an event, not an error.

    Returns the names of the hosts that released it. Other driver failures propagate, so the pool
    is not deleted while a reachable host still holds it (releasing again is harmless).
    """
    spec, done = pool_spec(pool), []
    for host in hosts_reaching(s, pool):
        if host.state != "Up":
            _skipped(s, pool, host, f"the host is {host.state}")
            continue
        try:
            drv = await app.hosts.driver(host)
            await drv.release_pool(spec)
        except HostUnreachable as exc:
            _skipped(s, pool, host, f"the host did not answer ({exc})")
            continue
        except DriverError as exc:
            raise InternalError(
                f"Host {host.name} could not release storage pool {pool.name}: {exc}; the pool is kept"
            ) from exc
        done.append(host.name)
    if done:
        record_event(s, EVENT, f"Released storage pool {pool.name} on {', '.join(done)}", resource=pool)
    return done
