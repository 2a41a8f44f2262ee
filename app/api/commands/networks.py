"""Guest network commands: create, list, update, delete and restart (the router follows the database)."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from sqlmodel import col, select
from virga.api.dispatch import Pending
from virga.api.registry import USER, Param, api
from virga.api.response import list_body
from virga.api.views.common import preload_owners, tags_of
from virga.api.views.networks import network_view
from virga.context import Ctx
from virga.errors import InUse, InvalidParameter, PermissionDenied
from virga.models import Network, NetworkOffering, Nic, VirtualMachine, Zone
from virga.services import limits
from virga.services import networks as svc
from virga.services.states import NetworkState

DOMAIN = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,250}[A-Za-z0-9])?$")


def _cidr(gateway: str | None, netmask: str | None, zone: Zone) -> tuple[ipaddress.IPv4Network, str]:
    """The network CIDR and gateway from gateway+netmask, or the zone's guest CIDR."""
    if bool(gateway) != bool(netmask):
        raise InvalidParameter("Parameters gateway and netmask must be given together")
    try:
        if gateway:
            net = ipaddress.IPv4Network(f"{gateway}/{netmask}", strict=False)
            gw = ipaddress.IPv4Address(gateway)
        else:
            net = ipaddress.IPv4Network(zone.guestcidraddress, strict=False)
            gw = net.network_address + 1
    except ValueError as exc:
        raise InvalidParameter(f"Parameter gateway/netmask is malformed: {exc}") from None
    if net.prefixlen > 29 or gw in (net.network_address, net.broadcast_address):
        raise InvalidParameter(
            f"Parameter gateway {gw} is not a usable address of a /{net.prefixlen} of at least 8 addresses"
        )
    return net, str(gw)


def _range(ctx: Ctx, net: ipaddress.IPv4Network, gateway: str) -> tuple[str, str]:
    """startip/endip inside the CIDR, excluding the gateway's position (shared networks)."""
    a = ctx.args
    out = []
    for param, value in (("startip", a.startip), ("endip", a.endip or a.startip)):
        if not value:
            return "", ""
        try:
            addr = ipaddress.IPv4Address(value)
        except ValueError:
            raise InvalidParameter(f"Parameter {param} is not an IPv4 address: {value!r}") from None
        if addr not in net or addr in (net.network_address, net.broadcast_address):
            raise InvalidParameter(f"Parameter {param} {value} is outside {net}")
        out.append(addr)
    if out[1] < out[0]:
        raise InvalidParameter("Parameter endip is lower than startip")
    return str(out[0]), str(out[1])


def _overlap(ctx: Ctx, zone: Zone, account_id: int, cidr: ipaddress.IPv4Network) -> None:
    """431 when another live network of the account in the zone overlaps the CIDR."""
    for other in ctx.db.exec(
        select(Network).where(Network.zone_id == zone.id, Network.account_id == account_id, Network.removed == None)
    ):
        if other.cidr and ipaddress.IPv4Network(other.cidr, strict=False).overlaps(cidr):
            raise InvalidParameter(
                f"Network CIDR {cidr} overlaps network {other.name} ({other.cidr}) of the account in this zone"
            )


def _shared(ctx: Ctx, off: NetworkOffering) -> dict[str, Any]:
    """Fields of a shared network: admins only, explicit range and VLAN when the offering says so."""
    out: dict[str, Any] = {}
    if ctx.role == USER:
        raise PermissionDenied("Only administrators may create shared networks")
    if off.specifyvlan and not ctx.args.vlan:
        raise InvalidParameter(f"Parameter vlan is required by network offering {off.name}")
    if ctx.args.vlan:
        vlan = str(ctx.args.vlan).replace("vlan://", "")
        if vlan != "untagged" and not (vlan.isdigit() and 1 <= int(vlan) <= 4094):
            raise InvalidParameter(f"Parameter vlan must be 1-4094 or untagged, not {ctx.args.vlan!r}")
        out |= {"vlan": vlan, "broadcasturi": f"vlan://{vlan}"}
    return out | {"acltype": ctx.args.acltype or ("Account" if ctx.args.account else "Domain")}


@api(
    "createNetwork",
    "Creates a network",
    "network",
    [
        Param("name", required=True, description="the name of the network"),
        Param("displaytext", description="the display text of the network"),
        Param("networkofferingid", "uuid", required=True, description="the network offering"),
        Param("zoneid", "uuid", required=True, description="the zone"),
        Param("gateway", description="the gateway (default: first address of the zone's guest CIDR)"),
        Param("netmask", description="the netmask"),
        Param("startip", description="first guest IP (shared)"),
        Param("endip", description="last guest IP (shared)"),
        Param("vlan", description="the VLAN (shared, admin)"),
        Param("networkdomain", description="the DNS domain of the network"),
        Param("account", description="the owner account (admins)"),
        Param("domainid", "uuid", description="its domain"),
        Param("acltype", description="Account or Domain"),
        Param("physicalnetworkid", "uuid", description="unused"),
        Param("displaynetwork", "boolean", description="unused"),
        Param("subdomainaccess", "boolean", description="unused"),
    ],
)
def create_network(ctx: Ctx) -> dict[str, Any]:
    """Validate and record a guest network (Allocated: its router comes with its first VM or IP)."""
    a = ctx.args
    account, domain = ctx.owner()
    zone = ctx.get(Zone, a.zoneid, "zoneid")
    off = ctx.get(NetworkOffering, a.networkofferingid, "networkofferingid")
    if off.state != "Enabled":
        raise InvalidParameter(f"Network offering {off.name} is not enabled")
    if a.acltype and a.acltype not in ("Account", "Domain"):
        raise InvalidParameter("Parameter acltype must be Account or Domain")
    cidr, gateway = _cidr(a.gateway, a.netmask, zone)
    if a.networkdomain and not DOMAIN.match(a.networkdomain):
        raise InvalidParameter(f"Parameter networkdomain is not a valid DNS domain: {a.networkdomain!r}")
    _overlap(ctx, zone, account.id or 0, cidr)
    limits.check(ctx.db, account, 6, 1)
    startip, endip = _range(ctx, cidr, gateway)
    fields = {
        "name": a.name,
        "displaytext": a.displaytext or a.name,
        "zone_id": zone.id or 0,
        "networkoffering_id": off.id or 0,
        "cidr": str(cidr),
        "gateway": gateway,
        "netmask": str(cidr.netmask),
        "startip": startip,
        "endip": endip,
        "networkdomain": a.networkdomain or zone.domain or "cloud.internal",
        "guestiptype": off.guestiptype,
        "account_id": account.id or 0,
        "domain_id": domain.id or 0,
        "acltype": a.acltype or "Account",
    }
    shared = off.guestiptype == "Shared"
    if shared:
        fields |= _shared(ctx, off)
    net = svc.create_network(ctx, zone, fields, segment=not shared)
    return {"network": network_view(ctx, net)}


@api(
    "listNetworks",
    "Lists guest networks",
    "network",
    [
        Param("id", "uuid", description="the network"),
        Param("name", description="the name"),
        Param("zoneid", "uuid", description="the zone"),
        Param("type", description="Isolated or Shared"),
        Param("traffictype", description="the traffic type"),
        Param("isshared", "boolean", description="shared ones"),
        Param("isdefault", "boolean", description="unused"),
        Param("issystem", "boolean", description="system ones"),
        Param("acltype", description="Account or Domain"),
        Param("account", description="the account"),
        Param("domainid", "uuid", description="the domain"),
        Param("isrecursive", "boolean", description="subdomains"),
        Param("networkofferingid", "uuid", description="the offering"),
        Param("tags", "map", description="tags"),
        Param("physicalnetworkid", "uuid", description="unused"),
        Param("restartrequired", "boolean", description="flag"),
        Param("canusefordeploy", "boolean", description="usable ones"),
        Param("supportedservices", "list", description="networks with services"),
        Param("specifyipranges", "boolean", description="unused"),
        Param("forvpc", "boolean", description="unused"),
        Param("displaynetwork", "boolean", description="unused"),
    ],
    paged=True,
)
def list_networks(ctx: Ctx) -> dict[str, Any]:
    """List the networks the caller may see (own ones and Domain-wide shared ones)."""
    a = ctx.args
    if a.issystem:
        return {}
    stmt = ctx.scope(select(Network), Network, shared_attr="acltype")
    for param, column in (
        ("type", Network.guestiptype),
        ("traffictype", Network.traffictype),
        ("acltype", Network.acltype),
    ):
        if a.get(param):
            stmt = stmt.where(column == a[param])
    if a.isshared is not None:
        stmt = stmt.where((Network.guestiptype == "Shared") if a.isshared else (Network.guestiptype != "Shared"))
    if a.zoneid:
        stmt = stmt.where(Network.zone_id == ctx.get(Zone, a.zoneid, "zoneid").id)
    if a.networkofferingid:
        stmt = stmt.where(
            Network.networkoffering_id == ctx.get(NetworkOffering, a.networkofferingid, "networkofferingid").id
        )
    if a.restartrequired is not None:
        stmt = stmt.where(Network.restartrequired == a.restartrequired)
    rows, count = ctx.page(stmt, Network, keyword=("name", "displaytext"), resourcetype="Network")
    if a.supportedservices:
        rows = [
            r
            for r in rows
            if set(a.supportedservices)
            <= set((ctx.by_id(NetworkOffering, r.networkoffering_id) or NetworkOffering(name="")).services)
        ]
        count = len(rows)
    preload_owners(ctx, rows)
    ctx.preload(NetworkOffering, {r.networkoffering_id for r in rows})
    tags = tags_of(ctx, "Network", rows)
    return list_body("network", [network_view(ctx, r, tags.get(r.id or 0)) for r in rows], count)


def _mine(ctx: Ctx, param: str = "id") -> Network:
    """A network the caller may change."""
    net = ctx.get(Network, ctx.args.get(param), param)
    ctx.require(net, f"network {net.name}")
    if net.acltype == "Domain" and ctx.role == USER:
        raise PermissionDenied(f"Account {ctx.account.name} may not change shared network {net.name}")
    return net


@api(
    "updateNetwork",
    "Updates a network's name, display text or network domain",
    "network",
    [
        Param("id", "uuid", required=True, description="the network"),
        Param("name", description="new name"),
        Param("displaytext", description="new display text"),
        Param("networkdomain", description="new DNS domain"),
        Param("networkofferingid", "uuid", description="unused"),
        Param("displaynetwork", "boolean", description="unused"),
    ],
    is_async=True,
)
def update_network(ctx: Ctx) -> Pending:
    """Change the record; the job re-applies the router (its DNS domain may have changed)."""
    net = _mine(ctx)
    a = ctx.args
    if a.networkdomain is not None and not DOMAIN.match(a.networkdomain):
        raise InvalidParameter(f"Parameter networkdomain is not a valid DNS domain: {a.networkdomain!r}")
    svc.update_network(ctx, net, {k: a[k] for k in ("name", "displaytext", "networkdomain") if a.get(k)})
    return Pending("Network", net.uuid)


@api(
    "deleteNetwork",
    "Deletes a network",
    "success",
    [
        Param("id", "uuid", required=True, description="the network"),
        Param("forced", "boolean", description="unused: VMs must be removed first"),
    ],
    is_async=True,
)
def delete_network(ctx: Ctx) -> Pending:
    """Refuse while VMs have NICs on it (536); mark it Destroy and queue the teardown."""
    net = _mine(ctx)
    used = ctx.db.exec(
        select(VirtualMachine.name)
        .join(Nic, col(Nic.vm_id) == VirtualMachine.id)
        .where(Nic.network_id == net.id, Nic.removed == None, VirtualMachine.removed == None)
    ).all()
    if used:
        raise InUse(f"Network {net.name} is in use by VMs: {', '.join(sorted(set(used))[:5])}")
    svc.mark_deleted(ctx, net)
    return Pending("Network", net.uuid)


@api(
    "restartNetwork",
    "Restarts a network's router; cleanup=true rebuilds it from the database",
    "network",
    [
        Param("id", "uuid", required=True, description="the network"),
        Param("cleanup", "boolean", description="destroy the router and build it again"),
        Param("makeredundant", "boolean", description="unused"),
        Param("livepatch", "boolean", description="unused"),
    ],
    is_async=True,
)
def restart_network(ctx: Ctx) -> Pending:
    """Queue a restart; an Allocated network is implemented first."""
    net = _mine(ctx)
    if net.state == NetworkState.DESTROY:
        raise InvalidParameter(f"Network {net.name} is being destroyed")
    svc.prepare_restart(ctx, net)
    return Pending("Network", net.uuid, {"cleanup": bool(ctx.args.cleanup)})
