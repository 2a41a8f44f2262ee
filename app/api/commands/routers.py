"""Virtual router commands: list (with per-service health), reboot, stop and start."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from virga.api.dispatch import Pending
from virga.api.registry import ADMINS, Param, api
from virga.api.response import list_body
from virga.api.views.common import preload_owners
from virga.api.views.routers import router_view
from virga.context import Ctx
from virga.errors import InvalidParameter
from virga.models import Network, Router, Zone
from virga.services import routers as svc
from virga.services.states import RouterState


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
            await svc.refresh_health(ctx, r)
    preload_owners(ctx, rows)
    items = [router_view(ctx, r) for r in rows]
    if a.healthchecksfailed is not None:
        items = [i for i in items if i["healthchecksfailed"] == a.healthchecksfailed]
        count = len(items)
    return list_body("router", items, count)


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
    r = _router(ctx, (RouterState.RUNNING, RouterState.STARTING), "reboot")
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
    r = _router(ctx, (RouterState.RUNNING, RouterState.STARTING), "stop")
    svc.mark_stopping(ctx, r)
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
    r = _router(ctx, (RouterState.STOPPED,), "start")
    return Pending("DomainRouter", r.uuid)
