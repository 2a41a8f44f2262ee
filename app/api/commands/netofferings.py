"""Network offerings: what a guest network provides, and which provider implements each service."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import select
from virga.api.registry import ROOT, USER, Param, api
from virga.api.response import list_body
from virga.api.validators import one_of, positive, unique_name
from virga.api.views.netofferings import network_offering_view
from virga.context import Ctx
from virga.errors import InUse, InvalidParameter
from virga.models import Network, NetworkOffering
from virga.services import netofferings as svc
from virga.services.states import EnabledState

SERVICES = (
    "Dhcp",
    "Dns",
    "UserData",
    "SourceNat",
    "StaticNat",
    "PortForwarding",
    "Lb",
    "Firewall",
    "SecurityGroup",
    "Vpn",
    "NetworkACL",
    "Gateway",
    "Connectivity",
)
PROVIDERS = {
    "SecurityGroup": ("SecurityGroupProvider",),
    "UserData": ("VirtualRouter", "ConfigDrive"),
    "Dhcp": ("VirtualRouter", "ConfigDrive"),
}
DEFAULT_PROVIDER = ("VirtualRouter", "VpcVirtualRouter")
GUEST_TYPES = ("Isolated", "Shared", "L2")


def _canonical(name: str, allowed: tuple[str, ...], param: str) -> str:
    """A service or provider name in CloudStack's spelling."""
    return one_of(name.strip(), allowed, param) or ""


def _services(ctx: Ctx, guest: str) -> dict[str, str]:
    """{service: provider} from supportedservices and serviceproviderlist, validated."""
    a = ctx.args
    wanted = [_canonical(s, SERVICES, "supportedservices") for s in (a.supportedservices or [])]
    chosen: dict[str, str] = {}
    all_providers = tuple(sorted({p for ps in PROVIDERS.values() for p in ps} | set(DEFAULT_PROVIDER)))
    for item in a.serviceproviderlist or []:
        svc = _canonical(item.get("service", ""), SERVICES, "serviceproviderlist")
        prov = _canonical(item.get("provider", ""), all_providers, "serviceproviderlist")
        if svc not in wanted:
            raise InvalidParameter(
                f"Parameter serviceproviderlist names service {svc}, which is not in supportedservices"
            )
        if prov not in PROVIDERS.get(svc, DEFAULT_PROVIDER):
            raise InvalidParameter(f"Parameter serviceproviderlist: provider {prov} cannot provide {svc}")
        chosen[svc] = prov
    out = {svc: chosen.get(svc) or PROVIDERS.get(svc, DEFAULT_PROVIDER)[0] for svc in wanted}
    if "SecurityGroup" in out and guest != "Shared":
        raise InvalidParameter("Parameter supportedservices: SecurityGroup is only supported by Shared offerings")
    if guest == "Shared" and ({"SourceNat", "StaticNat", "PortForwarding", "Firewall"} & set(out)):
        raise InvalidParameter(
            "Parameter supportedservices: a Shared offering cannot provide SourceNat, StaticNat, "
            "PortForwarding or Firewall"
        )
    if guest == "L2" and set(out) - {"UserData"}:
        raise InvalidParameter("Parameter supportedservices: an L2 offering provides no network service")
    return out


@api(
    "createNetworkOffering",
    "Creates a network offering (Disabled until updated to Enabled)",
    "networkoffering",
    [
        Param("name", required=True, description="the name"),
        Param("displaytext", description="the display text"),
        Param("guestiptype", required=True, description="Isolated, Shared or L2"),
        Param("traffictype", required=True, description="GUEST"),
        Param("supportedservices", "list", description="services: Dhcp, Dns, SourceNat, Firewall, Lb..."),
        Param("serviceproviderlist", "map", description="service/provider pairs"),
        Param("servicecapabilitylist", "map", description="unused"),
        Param("specifyvlan", "boolean", description="networks give their VLAN"),
        Param("specifyipranges", "boolean", description="networks give their IP ranges"),
        Param("egressdefaultpolicy", "boolean", description="true: egress allowed unless denied"),
        Param("conservemode", "boolean", description="conserve public IPs"),
        Param("availability", description="Required or Optional"),
        Param("networkrate", "integer", description="Mb/s"),
        Param("ispersistent", "boolean", description="unused"),
        Param("forvpc", "boolean", description="unused"),
        Param("tags", description="unused"),
        Param("domainid", "uuidlist", description="unused"),
        Param("zoneid", "uuidlist", description="unused"),
        Param("enable", "boolean", description="create Enabled"),
        Param("keepaliveenabled", "boolean", description="unused"),
        Param("maxconnections", "integer", description="unused"),
    ],
    roles=ROOT,
)
def create_network_offering(ctx: Ctx) -> dict[str, Any]:
    """Create a network offering."""
    a = ctx.args
    guest = one_of(a.guestiptype, GUEST_TYPES, "guestiptype") or "Isolated"
    one_of(a.traffictype, ("GUEST",), "traffictype")
    availability = one_of(a.availability or "Optional", ("Required", "Optional"), "availability")
    positive(a.networkrate, "networkrate")
    if guest == "Shared" and a.specifyipranges is False:
        raise InvalidParameter("Parameter specifyipranges must be true for a Shared offering")
    if a.forvpc:
        raise InvalidParameter("Parameter forvpc: VPC offerings are not supported")
    services = _services(ctx, guest)
    unique_name(ctx, NetworkOffering, a.name, "network offering")
    fields = dict(
        name=a.name,
        displaytext=a.displaytext or a.name,
        guestiptype=guest,
        traffictype="Guest",
        services=services,
        specifyvlan=bool(a.specifyvlan),
        specifyipranges=bool(a.specifyipranges if a.specifyipranges is not None else guest == "Shared"),
        egressdefaultpolicy=a.egressdefaultpolicy if a.egressdefaultpolicy is not None else True,
        conservemode=a.conservemode if a.conservemode is not None else True,
        availability=availability or "Optional",
        networkrate=a.networkrate or 200,
        state=EnabledState.ENABLED if a.enable else EnabledState.DISABLED,
    )
    return {"networkoffering": network_offering_view(ctx, svc.create_offering(ctx, fields))}


@api(
    "listNetworkOfferings",
    "Lists network offerings",
    "networkoffering",
    [
        Param("id", "uuid", description="the offering"),
        Param("name", description="the name"),
        Param("displaytext", description="the display text"),
        Param("traffictype", description="GUEST"),
        Param("isdefault", "boolean", description="default offerings"),
        Param("specifyvlan", "boolean", description="VLAN"),
        Param("availability", description="Required or Optional"),
        Param("guestiptype", description="Isolated..."),
        Param("state", description="Enabled or Disabled"),
        Param("specifyipranges", "boolean", description="ranges"),
        Param("supportedservices", "list", description="offerings providing all these services"),
        Param("sourcenatsupported", "boolean", description="with SourceNat"),
        Param("zoneid", "uuid", description="unused"),
        Param("networkid", "uuid", description="unused"),
        Param("forvpc", "boolean", description="unused"),
        Param("istagged", "boolean", description="unused"),
        Param("tags", description="unused"),
        Param("domainid", "uuid", description="unused"),
    ],
    paged=True,
)
def list_network_offerings(ctx: Ctx) -> dict[str, Any]:
    """List network offerings (plain users see the Enabled ones)."""
    a = ctx.args
    stmt = select(NetworkOffering)
    if ctx.role == USER:
        stmt = stmt.where(NetworkOffering.state == EnabledState.ENABLED)
    if a.forvpc:
        return {}
    for p in ("displaytext", "isdefault", "specifyvlan", "availability", "state", "specifyipranges"):
        if a.get(p) is not None:
            stmt = stmt.where(getattr(NetworkOffering, p) == a[p])
    if a.guestiptype:
        stmt = stmt.where(NetworkOffering.guestiptype == one_of(a.guestiptype, GUEST_TYPES, "guestiptype"))
    if a.traffictype:
        stmt = stmt.where(func.lower(NetworkOffering.traffictype) == a.traffictype.lower())
    rows, count = ctx.page(stmt, NetworkOffering, keyword=("name", "displaytext"), order=NetworkOffering.id)
    wanted = {_canonical(s, SERVICES, "supportedservices") for s in (a.supportedservices or [])}
    if a.sourcenatsupported:
        wanted.add("SourceNat")
    if wanted:
        rows = [o for o in rows if wanted <= set(o.services or {})]
        count = len(rows)
    return list_body("networkoffering", [network_offering_view(ctx, o) for o in rows], count)


@api(
    "updateNetworkOffering",
    "Updates a network offering",
    "networkoffering",
    [
        Param("id", "uuid", required=True, description="the offering"),
        Param("name", description="new name"),
        Param("displaytext", description="new display text"),
        Param("state", description="Enabled or Disabled"),
        Param("availability", description="Required or Optional"),
        Param("sortkey", "integer", description="unused"),
        Param("maxconnections", "integer", description="unused"),
        Param("keepaliveenabled", "boolean", description="unused"),
        Param("tags", description="unused"),
        Param("domainid", description="unused"),
        Param("zoneid", description="unused"),
    ],
    roles=ROOT,
)
def update_network_offering(ctx: Ctx) -> dict[str, Any]:
    """Enable/disable, rename or change the availability of a network offering."""
    a = ctx.args
    o = ctx.get(NetworkOffering, a.id)
    state = one_of(a.state, ("Enabled", "Disabled"), "state")
    availability = one_of(a.availability, ("Required", "Optional"), "availability")
    rename = a.name if a.name and a.name != o.name else None
    if rename:
        unique_name(ctx, NetworkOffering, a.name, "network offering")
    o = svc.update_offering(ctx, o, name=rename, displaytext=a.displaytext, state=state, availability=availability)
    return {"networkoffering": network_offering_view(ctx, o)}


@api(
    "deleteNetworkOffering",
    "Deletes a network offering no network uses",
    "success",
    [Param("id", "uuid", required=True, description="the offering")],
    roles=ROOT,
)
def delete_network_offering(ctx: Ctx) -> dict[str, Any]:
    """Delete a network offering (not a default one, not one in use)."""
    o = ctx.get(NetworkOffering, ctx.args.id)
    if o.isdefault:
        raise InvalidParameter(f"Network offering {o.name} is a default offering and cannot be deleted")
    n = ctx.db.exec(
        select(func.count()).select_from(Network).where(Network.networkoffering_id == o.id, Network.removed == None)
    ).one()
    if n:
        raise InUse(f"Network offering {o.name} is used by {n} network(s) and cannot be deleted")
    return svc.delete_offering(ctx, o)
