"""The physicalnetwork and traffictype response objects."""

from __future__ import annotations

from typing import Any

from virga.api.response import clean
from virga.api.views.common import ref
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.models import PhysicalNetwork, TrafficType, Zone

LABELS = ("kvmnetworklabel", "xennetworklabel", "vmwarenetworklabel")
FIELDS.update(
    {
        "physicalnetwork": "id name zoneid zonename state vlan isolationmethods broadcastdomainrange tags networkspeed",
        "traffictype": "id traffictype physicalnetworkid kvmnetworklabel xennetworklabel vmwarenetworklabel",
    }
)


def physnet_view(ctx: Ctx, p: PhysicalNetwork) -> dict[str, Any]:
    """A physicalnetwork response object."""
    return clean(
        {
            "id": p.uuid,
            "name": p.name,
            **ref(ctx, Zone, p.zone_id, "zone"),
            "state": p.state,
            "vlan": p.vlan or None,
            "isolationmethods": p.isolationmethods,
            "broadcastdomainrange": p.broadcastdomainrange,
            "tags": p.tags or None,
            "networkspeed": "1G",
        }
    )


def traffic_view(ctx: Ctx, t: TrafficType) -> dict[str, Any]:
    """A traffictype response object."""
    pn = ctx.by_id(PhysicalNetwork, t.physicalnetwork_id)
    return clean(
        {
            "id": t.uuid,
            "traffictype": t.traffictype,
            "physicalnetworkid": pn.uuid if pn else None,
            **{label: getattr(t, label) or None for label in LABELS},
        }
    )


def physnet_views(ctx: Ctx, rows: list[PhysicalNetwork]) -> list[dict[str, Any]]:
    """Physicalnetwork response objects (their zones read in one query)."""
    ctx.preload(Zone, {p.zone_id for p in rows})
    return [physnet_view(ctx, p) for p in rows]


def traffic_views(ctx: Ctx, rows: list[TrafficType]) -> list[dict[str, Any]]:
    """Traffictype response objects."""
    return [traffic_view(ctx, t) for t in rows]


RENDERERS = {
    PhysicalNetwork: ("physicalnetwork", physnet_views),
    TrafficType: ("traffictype", traffic_views),
}
