"""The ipaddress (public IP) response object."""

from __future__ import annotations

from typing import Any

from virga.api.response import clean
from virga.api.views.common import owner, ref
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.models import Network, PhysicalNetwork, PublicIpAddress, VirtualMachine, VlanIpRange, Zone
from virga.services.states import IpState

FIELDS.update(
    {
        "ipaddress": "id ipaddress allocated zoneid zonename issourcenat isstaticnat issystem "
        "forvirtualnetwork vlanid vlanname virtualmachineid virtualmachinename virtualmachinedisplayname "
        "vmipaddress associatednetworkid associatednetworkname networkid state physicalnetworkid "
        "purpose tags isportable fordisplay jobid jobstatus account domainid domain domainpath"
    }
)


def ip_view(ctx: Ctx, ip: PublicIpAddress, tags: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An ipaddress response object."""
    rng = ctx.by_id(VlanIpRange, ip.vlan_id)
    net = ctx.by_id(Network, ip.network_id)
    vm = ctx.by_id(VirtualMachine, ip.vm_id) if ip.isstaticnat else None
    pn = ctx.by_id(PhysicalNetwork, rng.physicalnetwork_id) if rng else None
    purpose = "StaticNat" if ip.isstaticnat else ("SourceNat" if ip.issourcenat else None)
    return clean(
        {
            "id": ip.uuid,
            "ipaddress": ip.ipaddress,
            "allocated": ip.created if ip.state != IpState.FREE else None,
            **ref(ctx, Zone, ip.zone_id, "zone"),
            "issourcenat": ip.issourcenat,
            "isstaticnat": ip.isstaticnat,
            "issystem": False,
            "forvirtualnetwork": bool(rng and rng.forvirtualnetwork),
            "vlanid": rng.uuid if rng else None,
            "vlanname": rng.vlan if rng else None,
            "virtualmachineid": vm.uuid if vm else None,
            "virtualmachinename": vm.name if vm else None,
            "virtualmachinedisplayname": (vm.displayname or vm.name) if vm else None,
            "vmipaddress": ip.vm_ip if ip.isstaticnat else None,
            "associatednetworkid": net.uuid if net else None,
            "associatednetworkname": net.name if net else None,
            "state": ip.state,
            "physicalnetworkid": pn.uuid if pn else None,
            "purpose": purpose,
            "tags": tags or [],
            "isportable": False,
            "fordisplay": True,
            **owner(ctx, ip),
        }
    )


def ip_views(ctx: Ctx, rows: list[PublicIpAddress]) -> list[dict[str, Any]]:
    """Public IPs (job results)."""
    return [ip_view(ctx, r) for r in rows]


RENDERERS = {PublicIpAddress: ("ipaddress", ip_views)}
