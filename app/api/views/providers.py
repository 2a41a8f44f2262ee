"""The networkserviceprovider and virtualrouterelement response objects."""

from __future__ import annotations

from typing import Any

from virga.api.response import clean
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.models import NetworkServiceProvider, PhysicalNetwork
from virga.models.infra import VirtualRouterElement

FIELDS.update(
    {
        "networkserviceprovider": "id name physicalnetworkid state servicelist destinationphysicalnetworkid "
        "canenableindividualservice",
        "virtualrouterelement": "id nspid enabled providertype account domainid domain",
    }
)


def nsp_view(ctx: Ctx, n: NetworkServiceProvider) -> dict[str, Any]:
    """A networkserviceprovider response object."""
    pn = ctx.by_id(PhysicalNetwork, n.physicalnetwork_id)
    return clean(
        {
            "id": n.uuid,
            "name": n.name,
            "physicalnetworkid": pn.uuid if pn else None,
            "state": n.state,
            "servicelist": [s for s in n.servicelist.split(",") if s],
            "destinationphysicalnetworkid": "0",
            "canenableindividualservice": n.name != "SecurityGroupProvider",
        }
    )


def element_view(ctx: Ctx, e: VirtualRouterElement) -> dict[str, Any]:
    """A virtualrouterelement response object."""
    nsp = ctx.by_id(NetworkServiceProvider, e.nsp_id)
    return clean(
        {
            "id": e.uuid,
            "nspid": nsp.uuid if nsp else None,
            "enabled": e.enabled,
            "providertype": nsp.name if nsp else None,
            "account": "system",
            "domain": "ROOT",
        }
    )


def nsp_views(ctx: Ctx, rows: list[NetworkServiceProvider]) -> list[dict[str, Any]]:
    """Networkserviceprovider response objects (their physical networks read in one query)."""
    ctx.preload(PhysicalNetwork, {n.physicalnetwork_id for n in rows})
    return [nsp_view(ctx, n) for n in rows]


def element_views(ctx: Ctx, rows: list[VirtualRouterElement]) -> list[dict[str, Any]]:
    """Virtualrouterelement response objects (their providers read in one query)."""
    ctx.preload(NetworkServiceProvider, {e.nsp_id for e in rows})
    return [element_view(ctx, e) for e in rows]


RENDERERS = {
    NetworkServiceProvider: ("networkserviceprovider", nsp_views),
    VirtualRouterElement: ("virtualrouterelement", element_views),
}
