"""The vlan (IP range) response object."""

from __future__ import annotations

from typing import Any

from virga.api.response import clean
from virga.api.views.common import owner, ref
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.models import Network, PhysicalNetwork, Pod, VlanIpRange, Zone

FIELDS.update(
    {
        "vlan": "id forvirtualnetwork zoneid zonename vlan account domainid domain podid podname gateway netmask "
        "description startip endip networkid physicalnetworkid forsystemvms",
    }
)


def vlan_view(ctx: Ctx, v: VlanIpRange) -> dict[str, Any]:
    """A vlan (IP range) response object."""
    net = ctx.by_id(Network, v.network_id)
    pn = ctx.by_id(PhysicalNetwork, v.physicalnetwork_id)
    return clean(
        {
            "id": v.uuid,
            "forvirtualnetwork": v.forvirtualnetwork,
            **ref(ctx, Zone, v.zone_id, "zone"),
            "vlan": v.vlan,
            **(owner(ctx, v) if v.account_id else {}),
            **ref(ctx, Pod, v.pod_id, "pod"),
            "gateway": v.gateway,
            "netmask": v.netmask,
            "description": f"{v.startip}-{v.endip}",
            "startip": v.startip,
            "endip": v.endip,
            "networkid": net.uuid if net else None,
            "physicalnetworkid": pn.uuid if pn else None,
            "forsystemvms": False,
        }
    )


def vlan_views(ctx: Ctx, rows: list[VlanIpRange]) -> list[dict[str, Any]]:
    """Vlan response objects (their zones read in one query)."""
    ctx.preload(Zone, {v.zone_id for v in rows})
    return [vlan_view(ctx, v) for v in rows]


RENDERERS = {VlanIpRange: ("vlan", vlan_views)}
