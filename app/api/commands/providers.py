"""Network service providers of physical networks and the VirtualRouter element (writes: virga.services.providers)."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from virga.api.dispatch import Pending
from virga.api.registry import ROOT, Param, api
from virga.api.response import list_body
from virga.api.validators import one_of
from virga.api.views.providers import element_view, nsp_view
from virga.context import Ctx
from virga.errors import InvalidParameter
from virga.models import NetworkServiceProvider, PhysicalNetwork
from virga.models.infra import VirtualRouterElement
from virga.services import providers as svc

PROVIDER_NAMES = ("VirtualRouter", "SecurityGroupProvider", "VpcVirtualRouter", "InternalLbVm", "ConfigDrive")


@api(
    "listNetworkServiceProviders",
    "Lists network service providers",
    "networkserviceprovider",
    [
        Param("physicalnetworkid", "uuid", description="the physical network"),
        Param("name", description="the name"),
        Param("state", description="Enabled, Disabled or Shutdown"),
    ],
    roles=ROOT,
    paged=True,
)
def list_nsps(ctx: Ctx) -> dict[str, Any]:
    """List network service providers."""
    a = ctx.args
    stmt = select(NetworkServiceProvider)
    if a.physicalnetworkid:
        pn = ctx.get(PhysicalNetwork, a.physicalnetworkid, "physicalnetworkid")
        stmt = stmt.where(NetworkServiceProvider.physicalnetwork_id == pn.id)
    if a.state:
        stmt = stmt.where(NetworkServiceProvider.state == a.state)
    rows, count = ctx.page(stmt, NetworkServiceProvider)
    ctx.preload(PhysicalNetwork, {n.physicalnetwork_id for n in rows})
    return list_body("networkserviceprovider", [nsp_view(ctx, n) for n in rows], count)


@api(
    "addNetworkServiceProvider",
    "Adds a network service provider to a physical network",
    "networkserviceprovider",
    [
        Param("name", required=True, description="VirtualRouter, SecurityGroupProvider, ..."),
        Param("physicalnetworkid", "uuid", required=True, description="the physical network"),
        Param("servicelist", "list", description="the services it provides"),
        Param("destinationphysicalnetworkid", "uuid", description="unused"),
    ],
    roles=ROOT,
    is_async=True,
)
def add_nsp(ctx: Ctx) -> Pending:
    """Record a provider (Disabled until enabled)."""
    a = ctx.args
    pn = ctx.get(PhysicalNetwork, a.physicalnetworkid, "physicalnetworkid")
    name = one_of(a.name, PROVIDER_NAMES, "name") or ""
    if ctx.db.exec(
        select(NetworkServiceProvider).where(
            NetworkServiceProvider.physicalnetwork_id == pn.id,
            NetworkServiceProvider.name == name,
            NetworkServiceProvider.removed == None,
        )
    ).first():
        raise InvalidParameter(f"Physical network {pn.name} already has provider {name} (parameter name)")
    return svc.add_nsp(ctx, pn, name, a.servicelist)


@api(
    "updateNetworkServiceProvider",
    "Enables, disables or shuts down a provider",
    "networkserviceprovider",
    [
        Param("id", "uuid", required=True, description="the provider"),
        Param("state", description="Enabled, Disabled or Shutdown"),
        Param("servicelist", "list", description="the services it provides"),
    ],
    roles=ROOT,
    is_async=True,
)
def update_nsp(ctx: Ctx) -> Pending:
    """Change a provider's state (a VirtualRouter needs its element enabled first) or services."""
    a = ctx.args
    nsp = ctx.get(NetworkServiceProvider, a.id)
    state = one_of(a.state, ("Enabled", "Disabled", "Shutdown"), "state")
    if state == "Enabled" and nsp.name in ("VirtualRouter", "VpcVirtualRouter"):
        element = ctx.db.exec(select(VirtualRouterElement).where(VirtualRouterElement.nsp_id == nsp.id)).first()
        if element is None or not element.enabled:
            raise InvalidParameter(
                f"Provider {nsp.name} is not configured: enable its element with "
                "configureVirtualRouterElement first (parameter state)"
            )
    return svc.update_nsp(ctx, nsp, state, a.servicelist)


@api(
    "deleteNetworkServiceProvider",
    "Deletes a network service provider",
    "success",
    [Param("id", "uuid", required=True, description="the provider")],
    roles=ROOT,
    is_async=True,
)
def delete_nsp(ctx: Ctx) -> Pending:
    """Remove a provider (and its element)."""
    nsp = ctx.get(NetworkServiceProvider, ctx.args.id)
    if nsp.state == "Enabled":
        raise InvalidParameter(f"Provider {nsp.name} is enabled; disable it before deleting it")
    return svc.delete_nsp(ctx, nsp)


@api(
    "listVirtualRouterElements",
    "Lists VirtualRouter elements",
    "virtualrouterelement",
    [
        Param("id", "uuid", description="the element"),
        Param("nspid", "uuid", description="the provider"),
        Param("enabled", "boolean", description="enabled ones"),
    ],
    roles=ROOT,
    paged=True,
)
def list_elements(ctx: Ctx) -> dict[str, Any]:
    """List VirtualRouter elements."""
    a = ctx.args
    stmt = select(VirtualRouterElement)
    if a.nspid:
        stmt = stmt.where(VirtualRouterElement.nsp_id == ctx.get(NetworkServiceProvider, a.nspid, "nspid").id)
    if a.enabled is not None:
        stmt = stmt.where(VirtualRouterElement.enabled == a.enabled)
    rows, count = ctx.page(stmt, VirtualRouterElement)
    ctx.preload(NetworkServiceProvider, {e.nsp_id for e in rows})
    return list_body("virtualrouterelement", [element_view(ctx, e) for e in rows], count)


@api(
    "configureVirtualRouterElement",
    "Enables or disables a VirtualRouter element",
    "virtualrouterelement",
    [
        Param("id", "uuid", required=True, description="the element"),
        Param("enabled", "boolean", required=True, description="true to enable"),
    ],
    roles=ROOT,
    is_async=True,
)
def configure_element(ctx: Ctx) -> Pending:
    """Enable or disable a VirtualRouter element."""
    e = ctx.get(VirtualRouterElement, ctx.args.id)
    return svc.configure_element(ctx, e, bool(ctx.args.enabled))
