"""Public IP commands: associate, disassociate, list, and static NAT (applied on the network's router)."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from virga.api.dispatch import Pending
from virga.api.registry import Param, api
from virga.api.response import clean, list_body
from virga.api.views.common import owner, preload_owners, ref, tags_of
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.errors import CloudError, InvalidParameter, RuleConflict
from virga.jobs.engine import JobRun, job_body, job_recover
from virga.models import Network, PhysicalNetwork, PublicIpAddress, VirtualMachine, VlanIpRange, Zone
from virga.services import ipam, limits
from virga.services.network import free_ip, implement, remove_rules, sync_router
from virga.services.rules import has_port_rules, owned_ip, resync, settle, vm_nic

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
            "allocated": ip.created if ip.state != "Free" else None,
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
        if net.guestiptype != "Isolated" or net.state == "Destroy":
            raise InvalidParameter(f"Network {net.name} cannot hold public IPs (it is {net.guestiptype}, {net.state})")
        account = ctx.by_id(type(ctx.account), net.account_id) or ctx.account
        zone_id = net.zone_id
    elif a.zoneid:
        account = ctx.owner()[0]
        zone_id = ctx.get(Zone, a.zoneid, "zoneid").id or 0
    else:
        raise InvalidParameter("Parameter networkid or zoneid is required")
    fresh = net is not None and net.state in ("Allocated", "Shutdown")
    limits.check(ctx.db, account, 1, 2 if fresh else 1)
    if net is not None and fresh:
        implement(ctx.db, net)
    ip = ipam.allocate_public_ip(ctx.db, zone_id, a.ipaddress)
    ip.state, ip.account_id, ip.domain_id = "Allocated", account.id, account.domain_id
    ip.network_id = net.id if net else None
    ctx.db.add(ip)
    return Pending("IpAddress", ip.uuid)


def _ip(s: Any, uuid: str) -> PublicIpAddress:
    """A public IP row by uuid."""
    return s.exec(select(PublicIpAddress).where(PublicIpAddress.uuid == uuid)).one()


def _ip_result(run: JobRun) -> dict[str, Any]:
    """The job result: the IP as the caller sees it."""
    with run.ctx() as ctx:
        return {"ipaddress": ip_view(ctx, _ip(ctx.db, run.instance_uuid))}


@job_body("associateIpAddress")
async def associate_body(run: JobRun) -> dict[str, Any]:
    """Put the IP on the router; free it again when that fails."""
    with run.db() as s:
        net_id = _ip(s, run.instance_uuid).network_id
    if net_id is not None:
        await settle(run, net_id, lambda s: _free(s, run.instance_uuid))
    return _ip_result(run)


def _free(s: Any, uuid: str) -> None:
    """Revert step: give an IP back to the pool."""
    ip = _ip(s, uuid)
    free_ip(ip)
    s.add(ip)


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
    ip.state = "Releasing"
    ctx.db.add(ip)
    return Pending("IpAddress", ip.uuid)


def _by_id_or_address(ctx: Ctx) -> PublicIpAddress:
    """The caller's allocated IP named by id or ipaddress."""
    if ctx.args.id:
        ip = ctx.get(PublicIpAddress, ctx.args.id)
    elif ctx.args.ipaddress:
        ip = ctx.db.exec(select(PublicIpAddress).where(PublicIpAddress.ipaddress == ctx.args.ipaddress)).first()
        if ip is None or not ctx.can_see(ip):
            raise InvalidParameter(f"Unable to find public IP {ctx.args.ipaddress} (parameter ipaddress)")
    else:
        raise InvalidParameter("Parameter id is required")
    if ip.state != "Allocated" or ip.account_id is None:
        raise InvalidParameter(f"Public IP {ip.ipaddress} is not allocated (it is {ip.state})")
    ctx.require(ip, f"public IP {ip.ipaddress}")
    return ip


@job_body("disassociateIpAddress")
async def disassociate_body(run: JobRun) -> dict[str, Any]:
    """Apply the router without the IP, then free it and remove its rules (or keep it on failure)."""
    with run.db() as s:
        net_id = _ip(s, run.instance_uuid).network_id
    if net_id is not None:
        await settle(run, net_id, lambda s: _set_state(s, run.instance_uuid, "Allocated"))
    with run.db() as s:
        ip = _ip(s, run.instance_uuid)
        remove_rules(s, ip_id=ip.id)
        free_ip(ip)
        s.add(ip)
        s.commit()
    return {"success": True}


def _set_state(s: Any, uuid: str, state: str) -> None:
    """Revert step: restore an IP's state."""
    ip = _ip(s, uuid)
    ip.state = state
    s.add(ip)


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
        stmt = ctx.scope(stmt, PublicIpAddress).where(PublicIpAddress.state != "Free")
    for param, col in (
        ("ipaddress", PublicIpAddress.ipaddress),
        ("isstaticnat", PublicIpAddress.isstaticnat),
        ("issourcenat", PublicIpAddress.issourcenat),
        ("state", PublicIpAddress.state),
    ):
        if a.get(param) is not None:
            stmt = stmt.where(col == a[param])
    for param, model, col in (
        ("associatednetworkid", Network, PublicIpAddress.network_id),
        ("zoneid", Zone, PublicIpAddress.zone_id),
        ("vlanid", VlanIpRange, PublicIpAddress.vlan_id),
    ):
        if a.get(param):
            stmt = stmt.where(col == ctx.get(model, a[param], param).id)
    if a.forvirtualnetwork is not None:
        stmt = stmt.where(
            PublicIpAddress.vlan_id.in_(
                select(VlanIpRange.id).where(  # type: ignore[attr-defined]
                    VlanIpRange.forvirtualnetwork == a.forvirtualnetwork
                )
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
    ip.isstaticnat, ip.vm_id, ip.vm_ip = True, vm.id, nic.ipaddress
    ctx.db.add(ip)
    ctx.db.commit()  # the router backend reads committed state; reverted below when applying fails
    try:
        await sync_router(ctx.app, net.id or 0)
    except CloudError:
        ctx.db.refresh(ip)
        ip.isstaticnat, ip.vm_id, ip.vm_ip = False, None, None
        ctx.db.add(ip)
        ctx.db.commit()
        await _resync(ctx, net.id or 0)
        raise
    return {"success": True}


async def _resync(ctx: Ctx, network_id: int) -> None:
    """Best-effort re-apply of the previous state after a failed change."""
    try:
        await sync_router(ctx.app, network_id)
    except CloudError:
        pass


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
    return Pending("IpAddress", ip.uuid)


@job_body("disableStaticNat")
async def disable_static_nat_body(run: JobRun) -> dict[str, Any]:
    """Clear the mapping and its firewall rules, apply; restore them when applying fails."""
    with run.db() as s:
        ip = _ip(s, run.instance_uuid)
        net_id, vm_id, vm_ip = ip.network_id or 0, ip.vm_id, ip.vm_ip
        ip.isstaticnat, ip.vm_id, ip.vm_ip = False, None, None
        s.add(ip)
        s.commit()

    def revert(s: Any) -> None:
        row = _ip(s, run.instance_uuid)
        row.isstaticnat, row.vm_id, row.vm_ip = True, vm_id, vm_ip
        s.add(row)

    await settle(run, net_id, revert)
    return {"success": True}


@job_recover("associateIpAddress")
async def recover_associate(run: JobRun) -> None:
    """The server died while acquiring: give the IP back and re-apply its network."""
    with run.db() as s:
        ip = _ip(s, run.instance_uuid)
        net_id = ip.network_id
        free_ip(ip)
        s.add(ip)
        s.commit()
    await resync(run.app, net_id)


@job_recover("disassociateIpAddress")
async def recover_disassociate(run: JobRun) -> None:
    """The server died while releasing: the IP stays allocated; re-apply its network."""
    with run.db() as s:
        ip = _ip(s, run.instance_uuid)
        if ip.state == "Releasing":
            ip.state = "Allocated"
            s.add(ip)
            s.commit()
        net_id = ip.network_id
    await resync(run.app, net_id)
