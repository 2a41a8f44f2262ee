"""Virtual router commands' writes and jobs: live health, reboot, stop and start."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlmodel import select
from virga.jobs.engine import JobRun, Ref, Restart, job_body, job_recover
from virga.models import Network, Router, Zone
from virga.services.network import backend_for, rebuild_router, start_router, stop_router
from virga.services.rules import resync
from virga.services.states import RouterState, can, transition

if TYPE_CHECKING:
    from virga.context import Ctx

log = logging.getLogger(__name__)


async def refresh_health(ctx: Ctx, r: Router) -> None:
    """Ask the backend for a running router's live health (backends that can measure it)."""
    net, zone = ctx.db.get(Network, r.network_id), ctx.db.get(Zone, r.zone_id)
    backend = backend_for(ctx.app, zone) if zone else None
    if net is None or r.state != RouterState.RUNNING or not hasattr(backend, "health"):
        return
    r.health = await backend.health(ctx.app, zone, net)  # type: ignore[union-attr]
    ctx.db.add(r)


def mark_stopping(ctx: Ctx, r: Router) -> None:
    """Move a router to Stopping (its job removes it from the host)."""
    transition(r, "stop")
    ctx.db.add(r)


def _network_id(run: JobRun) -> int:
    """The job's router's network."""
    with run.db() as s:
        return s.exec(select(Router.network_id).where(Router.uuid == run.instance_uuid)).one()


def _move(run: JobRun, event: str) -> None:
    """Undo or recover step: move the router record by an event (when its state allows it)."""
    with run.db() as s:
        r = s.exec(select(Router).where(Router.uuid == run.instance_uuid)).one()
        if can(r, event):
            transition(r, event)
            s.add(r)
            s.commit()


@job_body("rebootRouter", restart=Restart.RECONCILE)
async def reboot_body(run: JobRun) -> Ref:
    """Destroy and apply again from the database."""
    await rebuild_router(run.app, _network_id(run))
    return Ref(Router, run.instance_uuid)


@job_recover("rebootRouter")
async def recover_reboot(run: JobRun) -> None:
    """The server died mid-rebuild: apply the router from the database again."""
    await resync(run.app, _network_id(run))


@job_body("stopRouter", restart=Restart.RECONCILE)
async def stop_body(run: JobRun) -> Ref:
    """Remove the router from its host; on failure it is Running again."""
    net_id = _network_id(run)
    run.undo.push("router running again", lambda: _move(run, "stop_failed"))
    await stop_router(run.app, net_id)
    return Ref(Router, run.instance_uuid)


@job_recover("stopRouter")
async def recover_stop(run: JobRun) -> None:
    """The server died mid-stop: the router is Running again, applied from the database."""
    _move(run, "stop_failed")
    await resync(run.app, _network_id(run))


@job_body("startRouter", restart=Restart.RECONCILE)
async def start_body(run: JobRun) -> Ref:
    """Apply the router from the database; on failure it is Stopped again."""
    net_id = _network_id(run)
    run.undo.push("router stopped again", lambda: _move(run, "start_failed"))
    await start_router(run.app, net_id)
    return Ref(Router, run.instance_uuid)


@job_recover("startRouter")
async def recover_start(run: JobRun) -> None:
    """The server died mid-start: remove what was applied; the router is Stopped again."""
    try:
        await stop_router(run.app, _network_id(run))
    except Exception as exc:
        log.warning("removing router %s after its start died: %s", run.instance_uuid, exc)
        _move(run, "start_failed")
