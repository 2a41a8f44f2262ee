"""Guest network commands: create, list, update, delete and restart (the router follows the database)."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from sqlmodel import select
from virga.api.dispatch import Pending
from virga.api.registry import USER, Param, api
from virga.api.response import clean, list_body
from virga.api.views.common import owner, preload_owners, ref, tags_of
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.errors import InsufficientCapacity, InUse, InvalidParameter, PermissionDenied
from virga.jobs.engine import JobRun, job_body, job_recover
from virga.models import Network, NetworkOffering, Nic, PhysicalNetwork, VirtualMachine, Zone
from virga.services import limits
from virga.services.network import destroy_router, implement, rebuild_router, release_network, sync_router
from virga.services.states import transition

DOMAIN = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,250}[A-Za-z0-9])?$")
MAX_VNI = 16777215
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
    services = [{"name": name, "provider": [{"name": prov}]} for name, prov in sorted((off.services or {}).items())]
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
            "canusefordeploy": net.state != "Destroy",
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


def _segment(ctx: Ctx, zone: Zone) -> tuple[PhysicalNetwork | None, str, str]:
    """Physical network and broadcast URI of a new isolated network (next VNI/VLAN of the physical network)."""
    pn = ctx.db.exec(
        select(PhysicalNetwork)
        .where(PhysicalNetwork.zone_id == zone.id, PhysicalNetwork.removed == None)
        .order_by(PhysicalNetwork.id)
    ).first()
    if pn is None:
        return None, "", ""
    low, high = 1000, MAX_VNI
    m = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", pn.vlan or "")
    if m:
        low, high = int(m.group(1)), int(m.group(2))
    vni = max(pn.next_vni, low)
    if vni > high:
        raise InsufficientCapacity(f"Physical network {pn.name} has no free VNI/VLAN left in {pn.vlan}")
    pn.next_vni = vni + 1
    ctx.db.add(pn)
    scheme = "vlan" if "VLAN" in (pn.isolationmethods or "").upper().split(",") else "vxlan"
    return pn, f"{scheme}://{vni}", str(vni)


def _shared(ctx: Ctx, net: Network, off: NetworkOffering) -> None:
    """Shared networks: admins only, explicit range and VLAN when the offering says so."""
    if ctx.role == USER:
        raise PermissionDenied("Only administrators may create shared networks")
    if off.specifyvlan and not ctx.args.vlan:
        raise InvalidParameter(f"Parameter vlan is required by network offering {off.name}")
    if ctx.args.vlan:
        vlan = str(ctx.args.vlan).replace("vlan://", "")
        if vlan != "untagged" and not (vlan.isdigit() and 1 <= int(vlan) <= 4094):
            raise InvalidParameter(f"Parameter vlan must be 1-4094 or untagged, not {ctx.args.vlan!r}")
        net.vlan, net.broadcasturi = vlan, f"vlan://{vlan}"
    net.acltype = ctx.args.acltype or ("Account" if ctx.args.account else "Domain")


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
    net = Network(
        name=a.name,
        displaytext=a.displaytext or a.name,
        zone_id=zone.id or 0,
        networkoffering_id=off.id or 0,
        cidr=str(cidr),
        gateway=gateway,
        netmask=str(cidr.netmask),
        startip=startip,
        endip=endip,
        networkdomain=a.networkdomain or zone.domain or "cloud.internal",
        guestiptype=off.guestiptype,
        account_id=account.id or 0,
        domain_id=domain.id or 0,
        acltype=a.acltype or "Account",
    )
    if off.guestiptype == "Shared":
        _shared(ctx, net, off)
    else:
        pn, net.broadcasturi, net.vlan = _segment(ctx, zone)
        net.physicalnetwork_id = pn.id if pn else None
    ctx.db.add(net)
    ctx.db.flush()
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
    for param, col in (
        ("type", Network.guestiptype),
        ("traffictype", Network.traffictype),
        ("acltype", Network.acltype),
    ):
        if a.get(param):
            stmt = stmt.where(col == a[param])
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
    for key in ("name", "displaytext", "networkdomain"):
        if a.get(key):
            setattr(net, key, a[key])
    ctx.db.add(net)
    return Pending("Network", net.uuid)


async def _network_result(run: JobRun) -> dict[str, Any]:
    """The job result: the network as its caller sees it now."""
    with run.ctx() as ctx:
        net = ctx.db.exec(select(Network).where(Network.uuid == run.instance_uuid)).one()
        return {"network": network_view(ctx, net)}


def _network_id(run: JobRun) -> int:
    """The internal id of the job's network."""
    with run.db() as s:
        return s.exec(select(Network.id).where(Network.uuid == run.instance_uuid)).one() or 0


@job_body("updateNetwork")
async def update_body(run: JobRun) -> dict[str, Any]:
    """Re-apply the router after an update."""
    await sync_router(run.app, _network_id(run))
    return await _network_result(run)


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
        .join(Nic, Nic.vm_id == VirtualMachine.id)
        .where(Nic.network_id == net.id, Nic.removed == None, VirtualMachine.removed == None)
    ).all()
    if used:
        raise InUse(f"Network {net.name} is in use by VMs: {', '.join(sorted(set(used))[:5])}")
    transition(net, "destroy")
    ctx.db.add(net)
    return Pending("Network", net.uuid)


@job_body("deleteNetwork")
async def delete_body(run: JobRun) -> dict[str, Any]:
    """Remove the router, free the public IPs and rules, and mark the network removed."""
    net_id = _network_id(run)
    await destroy_router(run.app, net_id)
    with run.db() as s:
        net = s.get(Network, net_id)
        assert net is not None
        release_network(s, net)
        s.commit()
    return {"success": True}


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
    if net.state == "Destroy":
        raise InvalidParameter(f"Network {net.name} is being destroyed")
    implement(ctx.db, net)
    net.restartrequired = False
    ctx.db.add(net)
    return Pending("Network", net.uuid, {"cleanup": bool(ctx.args.cleanup)})


@job_body("restartNetwork")
async def restart_body(run: JobRun) -> dict[str, Any]:
    """Re-apply the router, or (cleanup) destroy and rebuild it from the database."""
    net_id = _network_id(run)
    if run.params.get("cleanup"):
        await rebuild_router(run.app, net_id)
    else:
        await sync_router(run.app, net_id)
    return await _network_result(run)


@job_recover("restartNetwork")
@job_recover("updateNetwork")
async def recover_restart(run: JobRun) -> None:
    """The server died mid-restart: make the router match the database again."""
    from virga.services.rules import resync

    await resync(run.app, _network_id(run))


@job_recover("deleteNetwork")
async def recover_delete(run: JobRun) -> None:
    """The server died mid-delete: finish the teardown (every step is idempotent)."""
    await delete_body(run)
