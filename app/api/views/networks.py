"""The network (guest network) response object."""

from __future__ import annotations

from typing import Any

from virga.api.response import clean
from virga.api.views.common import owner, ref
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.models import Network, NetworkOffering, PhysicalNetwork, Zone
from virga.services.states import NetworkState

FIELDS.update(
    {
        "network": "id name displaytext broadcastdomaintype traffictype gateway netmask cidr zoneid "
        "zonename networkofferingid networkofferingname networkofferingdisplaytext "
        "networkofferingconservemode networkofferingavailability issystem state related broadcasturi "
        "dns1 dns2 type vlan acltype networkdomain physicalnetworkid restartrequired specifyipranges "
        "canusefordeploy ispersistent service tags displaynetwork isdefault egressdefaultpolicy "
        "startip endip created account domainid domain domainpath"
    }
)


def network_view(ctx: Ctx, net: Network, tags: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A network response object."""
    off = ctx.by_id(NetworkOffering, net.networkoffering_id)
    pn = ctx.by_id(PhysicalNetwork, net.physicalnetwork_id)
    services = [
        {"name": name, "provider": [{"name": prov}]}
        for name, prov in sorted(((off.services if off else None) or {}).items())
    ]
    return clean(
        {
            "id": net.uuid,
            "name": net.name,
            "displaytext": net.displaytext or net.name,
            "broadcastdomaintype": net.broadcasturi.split("://")[0].capitalize() if net.broadcasturi else "Native",
            "traffictype": net.traffictype,
            "gateway": net.gateway or None,
            "netmask": net.netmask or None,
            "cidr": net.cidr or None,
            **ref(ctx, Zone, net.zone_id, "zone"),
            "networkofferingid": off.uuid if off else None,
            "networkofferingname": off.name if off else None,
            "networkofferingdisplaytext": off.displaytext if off else None,
            "networkofferingconservemode": off.conservemode if off else None,
            "networkofferingavailability": off.availability if off else None,
            "issystem": False,
            "state": net.state,
            "related": net.uuid,
            "broadcasturi": net.broadcasturi or None,
            "dns1": net.dns1 or None,
            "dns2": net.dns2 or None,
            "type": net.guestiptype,
            "vlan": net.vlan or None,
            "acltype": net.acltype,
            "networkdomain": net.networkdomain or None,
            "physicalnetworkid": pn.uuid if pn else None,
            "restartrequired": net.restartrequired,
            "specifyipranges": bool(off and off.specifyipranges),
            "canusefordeploy": net.state != NetworkState.DESTROY,
            "ispersistent": False,
            "service": services,
            "tags": tags or [],
            "displaynetwork": True,
            "isdefault": bool(off and off.isdefault),
            "egressdefaultpolicy": bool(off and off.egressdefaultpolicy),
            "startip": net.startip or None,
            "endip": net.endip or None,
            "created": net.created,
            **owner(ctx, net),
        }
    )


def network_views(ctx: Ctx, rows: list[Network]) -> list[dict[str, Any]]:
    """Networks (job results)."""
    return [network_view(ctx, r) for r in rows]


RENDERERS = {Network: ("network", network_views)}
