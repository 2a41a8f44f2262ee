"""Public IP commands: associate, disassociate, list, and static NAT (applied on the network's router)."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from virga.api.dispatch import Pending
from virga.api.registry import Param, api
from virga.api.response import list_body
from virga.api.views.addresses import ip_view
from virga.api.views.common import preload_owners, tags_of
from virga.context import Ctx
from virga.errors import InvalidParameter, RuleConflict
from virga.models import Network, PublicIpAddress, VlanIpRange, Zone
from virga.services import addresses as svc
from virga.services.rules import has_port_rules, owned_ip, vm_nic
from virga.services.states import IpState, NetworkState


@api(
    "associateIpAddress",
    "Acquires a public IP address for a network (or an account in a zone)",
    "ipaddress",
    [
        Param("networkid", "uuid", description="the network"),
        Param("zoneid", "uuid", description="the zone"),
        Param("ipaddress", description="a specific free public IP"),
        Param("account", description="the owner account (admins)"),
        Param("domainid", "uuid", description="its domain"),
        Param("isportable", "boolean", description="unused"),
        Param("fordisplay", "boolean", description="unused"),
        Param("vpcid", "uuid", description="unused"),
        Param("regionid", "integer", description="unused"),
    ],
    is_async=True,
)
def associate_ip(ctx: Ctx) -> Pending:
    """Check the limit (532), take a free IP (533) and queue the router update."""
    a = ctx.args
    net = None
    if a.networkid:
        net = ctx.get(Network, a.networkid, "networkid")
        ctx.require(net, f"network {net.name}")
        if net.guestiptype != "Isolated" or net.state == NetworkState.DESTROY:
            raise InvalidParameter(f"Network {net.name} cannot hold public IPs (it is {net.guestiptype}, {net.state})")
        account = ctx.by_id(type(ctx.account), net.account_id) or ctx.account
        zone_id = net.zone_id
    elif a.zoneid:
        account = ctx.owner()[0]
        zone_id = ctx.get(Zone, a.zoneid, "zoneid").id or 0
    else:
        raise InvalidParameter("Parameter networkid or zoneid is required")
    ip = svc.acquire(ctx, account, zone_id, net, a.ipaddress)
    return Pending("IpAddress", ip.uuid)


@api(
    "disassociateIpAddress",
    "Releases a public IP address",
    "success",
    [
        Param("id", "uuid", description="the public IP"),
        Param("ipaddress", description="the address itself"),
    ],
    is_async=True,
)
def disassociate_ip(ctx: Ctx) -> Pending:
    """Refuse the source NAT IP; mark it Releasing (the router drops it and its rules)."""
    ip = _by_id_or_address(ctx)
    if ip.issourcenat:
        raise InvalidParameter(f"Public IP {ip.ipaddress} is the source NAT IP of its network and cannot be released")
    svc.release(ctx, ip)
    return Pending("IpAddress", ip.uuid)


def _by_id_or_address(ctx: Ctx) -> PublicIpAddress:
    """The caller's allocated IP named by id or ipaddress."""
    ip: PublicIpAddress | None
    if ctx.args.id:
        ip = ctx.get(PublicIpAddress, ctx.args.id)
    elif ctx.args.ipaddress:
        ip = ctx.db.exec(select(PublicIpAddress).where(PublicIpAddress.ipaddress == ctx.args.ipaddress)).first()
        if ip is None or not ctx.can_see(ip):
            raise InvalidParameter(f"Unable to find public IP {ctx.args.ipaddress} (parameter ipaddress)")
    else:
        raise InvalidParameter("Parameter id is required")
    if ip.state != IpState.ALLOCATED or ip.account_id is None:
        raise InvalidParameter(f"Public IP {ip.ipaddress} is not allocated (it is {ip.state})")
    ctx.require(ip, f"public IP {ip.ipaddress}")
    return ip


@api(
    "listPublicIpAddresses",
    "Lists public IP addresses",
    "ipaddress",
    [
        Param("id", "uuid", description="the IP"),
        Param("ipaddress", description="the address"),
        Param("allocatedonly", "boolean", description="only allocated IPs (default true)"),
        Param("isstaticnat", "boolean", description="static NAT ones"),
        Param("issourcenat", "boolean", description="source NAT ones"),
        Param("associatednetworkid", "uuid", description="IPs of a network"),
        Param("networkid", "uuid", description="unused (the public network)"),
        Param("zoneid", "uuid", description="the zone"),
        Param("forvirtualnetwork", "boolean", description="public ones"),
        Param("vlanid", "uuid", description="the range"),
        Param("physicalnetworkid", "uuid", description="unused"),
        Param("state", description="the state"),
        Param("account", description="the account"),
        Param("domainid", "uuid", description="the domain"),
        Param("isrecursive", "boolean", description="subdomains"),
        Param("tags", "map", description="tags"),
        Param("fordisplay", "boolean", description="unused"),
        Param("vpcid", "uuid", description="unused"),
        Param("issystem", "boolean", description="unused"),
    ],
    paged=True,
)
def list_ips(ctx: Ctx) -> dict[str, Any]:
    """List the caller's public IPs (admins may add free ones with allocatedonly=false)."""
    a = ctx.args
    stmt = select(PublicIpAddress)
    if a.allocatedonly is False and ctx.is_root and not a.account:
        pass
    else:
        stmt = ctx.scope(stmt, PublicIpAddress).where(PublicIpAddress.state != IpState.FREE)
    for param, column in (
        ("ipaddress", PublicIpAddress.ipaddress),
        ("isstaticnat", PublicIpAddress.isstaticnat),
        ("issourcenat", PublicIpAddress.issourcenat),
        ("state", PublicIpAddress.state),
    ):
        if a.get(param) is not None:
            stmt = stmt.where(column == a[param])
    for param, model, field in (
        ("associatednetworkid", Network, PublicIpAddress.network_id),
        ("zoneid", Zone, PublicIpAddress.zone_id),
        ("vlanid", VlanIpRange, PublicIpAddress.vlan_id),
    ):
        if a.get(param):
            stmt = stmt.where(field == ctx.get(model, a[param], param).id)
    if a.forvirtualnetwork is not None:
        stmt = stmt.where(
            col(PublicIpAddress.vlan_id).in_(
                select(VlanIpRange.id).where(VlanIpRange.forvirtualnetwork == a.forvirtualnetwork)
            )
        )
    rows, count = ctx.page(stmt, PublicIpAddress, keyword=("ipaddress",), resourcetype="PublicIpAddress")
    preload_owners(ctx, rows)
    ctx.preload(VlanIpRange, {r.vlan_id for r in rows})
    ctx.preload(Network, {r.network_id for r in rows})
    tags = tags_of(ctx, "PublicIpAddress", rows)
    return list_body("publicipaddress", [ip_view(ctx, r, tags.get(r.id or 0)) for r in rows], count)


@api(
    "enableStaticNat",
    "Enables static NAT (1:1) from a public IP to a VM",
    "success",
    [
        Param("ipaddressid", "uuid", required=True, description="the public IP"),
        Param("virtualmachineid", "uuid", required=True, description="the VM"),
        Param("vmguestip", description="the VM's guest IP (default: its NIC's)"),
        Param("networkid", "uuid", description="the VM's network (default: the IP's)"),
    ],
)
async def enable_static_nat(ctx: Ctx) -> dict[str, Any]:
    """Validate, record and apply at once (synchronous, as in CloudStack); undo the record when applying fails."""
    ip, net = owned_ip(ctx, ctx.args.ipaddressid)
    if ctx.args.networkid and ctx.get(Network, ctx.args.networkid, "networkid").id != net.id:
        raise InvalidParameter(f"Public IP {ip.ipaddress} is not associated with network {ctx.args.networkid}")
    if ip.issourcenat:
        raise InvalidParameter(f"Static NAT cannot be enabled on source NAT IP {ip.ipaddress}")
    vm, nic = vm_nic(ctx, ctx.args.virtualmachineid, net, ctx.args.vmguestip)
    if ip.isstaticnat:
        raise InvalidParameter(f"Static NAT is already enabled on {ip.ipaddress} (for VM id {ip.vm_id})")
    if has_port_rules(ctx.db, ip):
        raise RuleConflict(f"Public IP {ip.ipaddress} has port forwarding or load balancer rules")
    taken = ctx.db.exec(
        select(PublicIpAddress).where(
            PublicIpAddress.isstaticnat == True,  # noqa: E712
            PublicIpAddress.network_id == net.id,
            PublicIpAddress.vm_ip == nic.ipaddress,
        )
    ).first()
    if taken is not None:
        raise RuleConflict(f"VM {vm.name} ({nic.ipaddress}) already has static NAT from {taken.ipaddress}")
    await svc.enable_static_nat(ctx, ip, net, vm, nic)
    return {"success": True}


@api(
    "disableStaticNat",
    "Disables static NAT on a public IP",
    "success",
    [
        Param("ipaddressid", "uuid", required=True, description="the public IP"),
    ],
    is_async=True,
)
def disable_static_nat(ctx: Ctx) -> Pending:
    """Check static NAT is on and queue its removal."""
    ip, _ = owned_ip(ctx, ctx.args.ipaddressid)
    if not ip.isstaticnat:
        raise InvalidParameter(f"Static NAT is not enabled on {ip.ipaddress}")
    return Pending("IpAddress", ip.uuid, {"vm_id": ip.vm_id, "vm_ip": ip.vm_ip})
