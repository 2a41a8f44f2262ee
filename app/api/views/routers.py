"""The router (domainrouter) response object, with its per-service health."""

from __future__ import annotations

from typing import Any

from virga.api.response import clean
from virga.api.views.common import owner, ref
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.models import Network, Router, Zone
from virga.services.network import is_healthy

FIELDS.update(
    {
        "router": "id name state zoneid zonename networkdomain dns1 dns2 publicip guestipaddress "
        "guestnetworkid guestnetworkname role version requiresupgrade healthchecksfailed healthcheckresults "
        "redundantstate isredundantrouter created account domainid domain domainpath"
    }
)


def health_results(ctx: Ctx, router: Router) -> list[dict[str, Any]]:
    """CloudStack's healthcheckresults from the router's recorded per-service health."""
    zone = ctx.by_id(Zone, router.zone_id)
    return [
        {
            "checkname": name,
            "checktype": "basic",
            "success": is_healthy(ctx.app, zone, value),
            "details": str(value),
            "lastupdated": None,
        }
        for name, value in sorted((router.health or {}).items())
    ]


def router_view(ctx: Ctx, r: Router) -> dict[str, Any]:
    """A router (domainrouter) response object."""
    net = ctx.by_id(Network, r.network_id)
    zone = ctx.by_id(Zone, r.zone_id)
    results = [clean(x) for x in health_results(ctx, r)]
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


def router_views(ctx: Ctx, rows: list[Router]) -> list[dict[str, Any]]:
    """Routers (job results)."""
    return [router_view(ctx, r) for r in rows]


RENDERERS = {Router: ("router", router_views)}
