"""Virtual router commands: list (with per-service health), reboot, stop and start."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from virga.api.dispatch import Pending
from virga.api.registry import ADMINS, Param, api
from virga.api.response import clean, list_body
from virga.api.views.common import owner, preload_owners, ref
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.errors import InvalidParameter
from virga.jobs.engine import JobRun, job_body
from virga.models import Network, Router, Zone
from virga.services.network import backend_for, rebuild_router, start_router, stop_router

FIELDS.update(
    {
        "router": "id name state zoneid zonename networkdomain dns1 dns2 publicip guestipaddress "
        "guestnetworkid guestnetworkname role version requiresupgrade healthchecksfailed healthcheckresults "
        "redundantstate isredundantrouter created account domainid domain domainpath"
    }
)
GOOD = ("up", "simulated", True)


def health_results(router: Router) -> list[dict[str, Any]]:
    """CloudStack's healthcheckresults from the router's recorded per-service health."""
    return [
        {"checkname": name, "checktype": "basic", "success": value in GOOD, "details": str(value), "lastupdated": None}
        for name, value in sorted((router.health or {}).items())
    ]


def router_view(ctx: Ctx, r: Router) -> dict[str, Any]:
    """A router (domainrouter) response object."""
    net = ctx.by_id(Network, r.network_id)
    zone = ctx.by_id(Zone, r.zone_id)
    results = [clean(x) for x in health_results(r)]
    return clean(
        {
            "id": r.uuid,
            "name": r.name,
            "state": r.state,
            **ref(ctx, Zone, r.zone_id, "zone"),
            "networkdomain": net.networkdomain if net else None,
            "dns1": zone.dns1 or None if zone else None,
            "dns2": zone.dns2 or None if zone else None,
            "publicip": r.publicip or None,
            "guestipaddress": r.guestipaddress or None,
            "guestnetworkid": net.uuid if net else None,
            "guestnetworkname": net.name if net else None,
            "role": "VIRTUAL_ROUTER",
            "version": r.version,
            "requiresupgrade": False,
            "healthchecksfailed": any(not x["success"] for x in results),
            "healthcheckresults": results,
            "redundantstate": "UNKNOWN",
            "isredundantrouter": False,
            "created": r.created,
            **owner(ctx, r),
        }
    )


@api(
    "listRouters",
    "Lists virtual routers with the health of their services",
    "router",
    [
        Param("id", "uuid", description="the router"),
        Param("name", description="the name"),
        Param("networkid", "uuid", description="the guest network"),
        Param("zoneid", "uuid", description="the zone"),
        Param("state", description="the state"),
        Param("account", description="the account"),
        Param("domainid", "uuid", description="the domain"),
        Param("isrecursive", "boolean", description="subdomains"),
        Param("fetchhealthcheckresults", "boolean", description="ask the routers for live health"),
        Param("healthchecksfailed", "boolean", description="only routers with failing checks"),
        Param("podid", "uuid", description="unused"),
        Param("hostid", "uuid", description="unused"),
        Param("clusterid", "uuid", description="unused"),
        Param("vpcid", "uuid", description="unused"),
        Param("forvpc", "boolean", description="unused"),
        Param("role", description="unused"),
        Param("version", description="unused"),
    ],
    roles=ADMINS,
    paged=True,
)
async def list_routers(ctx: Ctx) -> dict[str, Any]:
    """List routers (admins), optionally refreshing their health from the host."""
    a = ctx.args
    stmt = ctx.scope(select(Router), Router) if (a.account or a.domainid or ctx.role != "Admin") else select(Router)
    for param, model, col in (("networkid", Network, Router.network_id), ("zoneid", Zone, Router.zone_id)):
        if a.get(param):
            stmt = stmt.where(col == ctx.get(model, a[param], param).id)
    if a.state:
        stmt = stmt.where(Router.state == a.state)
    rows, count = ctx.page(stmt, Router)
    if a.fetchhealthcheckresults:
        for r in rows:
            await _refresh(ctx, r)
    preload_owners(ctx, rows)
    items = [router_view(ctx, r) for r in rows]
    if a.healthchecksfailed is not None:
        items = [i for i in items if i["healthchecksfailed"] == a.healthchecksfailed]
        count = len(items)
    return list_body("router", items, count)


async def _refresh(ctx: Ctx, r: Router) -> None:
    """Ask the backend for a running router's live health (netns backends only)."""
    net, zone = ctx.db.get(Network, r.network_id), ctx.db.get(Zone, r.zone_id)
    backend = backend_for(ctx.app, zone) if zone else None
    if net is None or r.state != "Running" or not hasattr(backend, "health"):
        return
    r.health = await backend.health(ctx.app, zone, net)  # type: ignore[union-attr]
    ctx.db.add(r)


def _router(ctx: Ctx, allowed: tuple[str, ...], verb: str) -> Router:
    """A router the caller may act on, in one of the allowed states."""
    r = ctx.get(Router, ctx.args.id)
    ctx.require(r, f"router {r.name}")
    if r.state not in allowed:
        raise InvalidParameter(f"Unable to {verb} router {r.name}: it is {r.state} (allowed from {', '.join(allowed)})")
    return r


@api(
    "rebootRouter",
    "Reboots a router: rebuilds it from the database",
    "router",
    [Param("id", "uuid", required=True, description="the router"), Param("forced", "boolean", description="unused")],
    roles=ADMINS,
    is_async=True,
)
def reboot(ctx: Ctx) -> Pending:
    """Queue a rebuild of a running router."""
    r = _router(ctx, ("Running", "Starting"), "reboot")
    return Pending("DomainRouter", r.uuid)


@api(
    "stopRouter",
    "Stops a router: its namespace goes, its record stays Stopped",
    "router",
    [Param("id", "uuid", required=True, description="the router"), Param("forced", "boolean", description="unused")],
    roles=ADMINS,
    is_async=True,
)
def stop(ctx: Ctx) -> Pending:
    """Queue a stop."""
    r = _router(ctx, ("Running", "Starting"), "stop")
    r.state = "Stopping"
    ctx.db.add(r)
    return Pending("DomainRouter", r.uuid)


@api(
    "startRouter",
    "Starts a stopped router from the database",
    "router",
    [Param("id", "uuid", required=True, description="the router")],
    roles=ADMINS,
    is_async=True,
)
def start(ctx: Ctx) -> Pending:
    """Queue a start."""
    r = _router(ctx, ("Stopped",), "start")
    return Pending("DomainRouter", r.uuid)


def _row(run: JobRun) -> Router:
    """The job's router."""
    with run.db() as s:
        return s.exec(select(Router).where(Router.uuid == run.instance_uuid)).one()


def _result(run: JobRun) -> dict[str, Any]:
    """The job result: the router now."""
    with run.ctx() as ctx:
        return {"router": router_view(ctx, ctx.db.exec(select(Router).where(Router.uuid == run.instance_uuid)).one())}


@job_body("rebootRouter")
async def reboot_body(run: JobRun) -> dict[str, Any]:
    """Destroy and apply again from the database."""
    await rebuild_router(run.app, _row(run).network_id)
    return _result(run)


@job_body("stopRouter")
async def stop_body(run: JobRun) -> dict[str, Any]:
    """Remove the router from its host; on failure it is Running again."""
    net_id = _row(run).network_id
    run.undo.push("router running again", lambda: _set_state(run, "Running"))
    await stop_router(run.app, net_id)
    return _result(run)


@job_body("startRouter")
async def start_body(run: JobRun) -> dict[str, Any]:
    """Apply the router from the database; on failure it is Stopped again."""
    net_id = _row(run).network_id
    run.undo.push("router stopped again", lambda: _set_state(run, "Stopped"))
    await start_router(run.app, net_id)
    return _result(run)


def _set_state(run: JobRun, state: str) -> None:
    """Undo step: put the router record back in a state."""
    with run.db() as s:
        r = s.exec(select(Router).where(Router.uuid == run.instance_uuid)).one()
        r.state = state
        s.add(r)
        s.commit()
