"""Public (and shared guest) IP ranges: createVlanIpRange, listVlanIpRanges, deleteVlanIpRange."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from sqlalchemy import func
from sqlmodel import select
from virga.api.registry import ROOT, Param, api
from virga.api.response import list_body
from virga.api.validators import ipv4
from virga.api.views.vlanranges import vlan_view
from virga.context import Ctx
from virga.errors import InUse, InvalidParameter
from virga.models import Network, PhysicalNetwork, Pod, PublicIpAddress, TrafficType, VlanIpRange, Zone
from virga.services import vlanranges as svc
from virga.services.ipam import int_to_ip
from virga.services.states import IpState

MAX_RANGE = 65536


def parse_vlan(value: str | None) -> str:
    """untagged, or vlan://N for a tag 1-4094 (given as N or vlan://N)."""
    text = (value or "untagged").strip().lower()
    if text in ("untagged", "vlan://untagged"):
        return "untagged"
    m = re.fullmatch(r"(?:vlan://)?(\d+)", text)
    if not m or not 1 <= int(m.group(1)) <= 4094:
        raise InvalidParameter(f"Parameter vlan: {value!r} is not untagged, vlan://N or a VLAN number 1-4094")
    return f"vlan://{int(m.group(1))}"


def _addresses(ctx: Ctx) -> tuple[int, int, ipaddress.IPv4Network]:
    """The range's first and last address as integers and its subnet, validated."""
    a = ctx.args
    gw, start = ipv4(a.gateway, "gateway"), ipv4(a.startip, "startip")
    end = ipv4(a.endip, "endip") or start
    try:
        subnet = ipaddress.IPv4Network(f"{gw}/{a.netmask}", strict=False)
    except ValueError:
        raise InvalidParameter(f"Parameter netmask: {a.netmask!r} is not a valid netmask") from None
    assert start is not None and end is not None and gw is not None
    if int(start) > int(end):
        raise InvalidParameter(f"Parameter endip: {end} comes before startip {start}")
    for param, ip in (("startip", start), ("endip", end)):
        if ip not in subnet:
            raise InvalidParameter(f"Parameter {param}: {ip} is not in the gateway's subnet {subnet}")
    if int(start) <= int(gw) <= int(end):
        raise InvalidParameter(f"Parameter gateway: {gw} lies inside the range {start}-{end}")
    if subnet.prefixlen < 31 and (start == subnet.network_address or end == subnet.broadcast_address):
        raise InvalidParameter(f"The range {start}-{end} includes the network or broadcast address of {subnet}")
    if int(end) - int(start) + 1 > MAX_RANGE:
        raise InvalidParameter(f"Parameter endip: a range holds at most {MAX_RANGE} addresses")
    return int(start), int(end), subnet


def _zone_and_net(ctx: Ctx) -> tuple[Zone, Network | None]:
    """The zone of the range (zoneid, or the network's) and the shared network it serves."""
    a = ctx.args
    net = ctx.get(Network, a.networkid, "networkid") if a.networkid else None
    zone: Zone | None
    if a.zoneid:
        zone = ctx.get(Zone, a.zoneid, "zoneid")
    elif net is not None:
        zone = ctx.db.get(Zone, net.zone_id)
    else:
        raise InvalidParameter("Missing parameter zoneid")
    assert zone is not None
    if net is not None and net.zone_id != zone.id:
        raise InvalidParameter(f"Network {net.name} is not in zone {zone.name} (parameter networkid)")
    return zone, net


def _physnet(ctx: Ctx, zone: Zone) -> PhysicalNetwork | None:
    """The physical network named, else the zone's one carrying Public traffic, else its only one."""
    if ctx.args.physicalnetworkid:
        pn = ctx.get(PhysicalNetwork, ctx.args.physicalnetworkid, "physicalnetworkid")
        if pn.zone_id != zone.id:
            raise InvalidParameter(
                f"Physical network {pn.name} is not in zone {zone.name} (parameter physicalnetworkid)"
            )
        return pn
    nets = list(
        ctx.db.exec(select(PhysicalNetwork).where(PhysicalNetwork.zone_id == zone.id, PhysicalNetwork.removed == None))
    )
    public = [
        p
        for p in nets
        if ctx.db.exec(
            select(TrafficType).where(
                TrafficType.physicalnetwork_id == p.id, TrafficType.traffictype == "Public", TrafficType.removed == None
            )
        ).first()
    ]
    found = public or nets
    return found[0] if found else None


def _check_overlap(ctx: Ctx, zone: Zone, first: int, last: int) -> None:
    """431 when the range overlaps another live range of the zone."""
    other = ctx.db.exec(
        select(VlanIpRange).where(
            VlanIpRange.zone_id == zone.id,
            VlanIpRange.removed == None,
            VlanIpRange.start_int <= last,
            VlanIpRange.end_int >= first,
        )
    ).first()
    if other is not None:
        raise InvalidParameter(
            f"The IP range {int_to_ip(first)}-{int_to_ip(last)} overlaps range "
            f"{other.startip}-{other.endip} of zone {zone.name} (parameters startip/endip)"
        )


@api(
    "createVlanIpRange",
    "Creates a public (or shared network) IP range",
    "vlan",
    [
        Param("zoneid", "uuid", description="the zone"),
        Param("podid", "uuid", description="the pod (optional)"),
        Param("physicalnetworkid", "uuid", description="the physical network"),
        Param("networkid", "uuid", description="the shared network the range serves"),
        Param("vlan", description="untagged, vlan://N or N"),
        Param("gateway", required=True, description="gateway"),
        Param("netmask", required=True, description="netmask"),
        Param("startip", required=True, description="first IP"),
        Param("endip", description="last IP (default startip)"),
        Param("forvirtualnetwork", "boolean", description="true: public IPs for isolated networks"),
        Param("account", description="dedicate to an account"),
        Param("domainid", "uuid", description="its domain"),
        Param("forsystemvms", "boolean", description="unused"),
        Param("ip6gateway", description="unused"),
        Param("ip6cidr", description="unused"),
        Param("startipv6", description="unused"),
        Param("endipv6", description="unused"),
    ],
    roles=ROOT,
)
def create_range(ctx: Ctx) -> dict[str, Any]:
    """Validate and record a range; public ranges get one free PublicIpAddress per address."""
    a = ctx.args
    zone, net = _zone_and_net(ctx)
    pod = ctx.get(Pod, a.podid, "podid") if a.podid else None
    if pod is not None and pod.zone_id != zone.id:
        raise InvalidParameter(f"Pod {pod.name} is not in zone {zone.name} (parameter podid)")
    virtual = a.forvirtualnetwork if a.forvirtualnetwork is not None else net is None
    if virtual and net is not None:
        raise InvalidParameter("Parameter forvirtualnetwork must be false for a shared network's range")
    vlan = parse_vlan(a.vlan)
    first, last, subnet = _addresses(ctx)
    if net is not None and net.cidr and not ipaddress.IPv4Network(net.cidr, strict=False).overlaps(subnet):
        raise InvalidParameter(f"The range is not in network {net.name}'s CIDR {net.cidr} (parameter gateway)")
    _check_overlap(ctx, zone, first, last)
    pn = _physnet(ctx, zone)
    acct = ctx.owner()[0] if a.account else None
    fields = dict(
        zone_id=zone.id or 0,
        pod_id=pod.id if pod else None,
        physicalnetwork_id=pn.id if pn else None,
        network_id=net.id if net else None,
        vlan=vlan,
        gateway=a.gateway,
        netmask=a.netmask,
        startip=int_to_ip(first),
        endip=int_to_ip(last),
        start_int=first,
        end_int=last,
        forvirtualnetwork=virtual,
        account_id=acct.id if acct else None,
        domain_id=acct.domain_id if acct else None,
    )
    return {"vlan": vlan_view(ctx, svc.create_range(ctx, fields))}


@api(
    "listVlanIpRanges",
    "Lists IP ranges",
    "vlan",
    [
        Param("id", "uuid", description="the range"),
        Param("zoneid", "uuid", description="the zone"),
        Param("podid", "uuid", description="the pod"),
        Param("physicalnetworkid", "uuid", description="physnet"),
        Param("networkid", "uuid", description="the network"),
        Param("vlan", description="the VLAN"),
        Param("forvirtualnetwork", "boolean", description="public ranges"),
        Param("account", description="account"),
        Param("domainid", "uuid", description="domain"),
        Param("projectid", "uuid", description="unused"),
    ],
    roles=ROOT,
    paged=True,
)
def list_ranges(ctx: Ctx) -> dict[str, Any]:
    """List IP ranges."""
    a = ctx.args
    stmt = select(VlanIpRange)
    for param, model, col in (
        ("zoneid", Zone, VlanIpRange.zone_id),
        ("podid", Pod, VlanIpRange.pod_id),
        ("physicalnetworkid", PhysicalNetwork, VlanIpRange.physicalnetwork_id),
        ("networkid", Network, VlanIpRange.network_id),
    ):
        if a.get(param):
            stmt = stmt.where(col == ctx.get(model, a[param], param).id)
    if a.vlan:
        stmt = stmt.where(VlanIpRange.vlan == parse_vlan(a.vlan))
    if a.forvirtualnetwork is not None:
        stmt = stmt.where(VlanIpRange.forvirtualnetwork == a.forvirtualnetwork)
    if a.account:
        stmt = stmt.where(VlanIpRange.account_id == ctx.owner()[0].id)
    rows, count = ctx.page(stmt, VlanIpRange, keyword=("startip", "endip", "gateway"))
    ctx.preload(Zone, {v.zone_id for v in rows})
    return list_body("vlan", [vlan_view(ctx, v) for v in rows], count)


@api(
    "deleteVlanIpRange",
    "Deletes an IP range none of whose addresses is in use",
    "success",
    [Param("id", "uuid", required=True, description="the range")],
    roles=ROOT,
)
def delete_range(ctx: Ctx) -> dict[str, Any]:
    """Delete a range and its free public IPs; 536 when any of them is allocated."""
    v = ctx.get(VlanIpRange, ctx.args.id)
    used = ctx.db.exec(
        select(func.count())
        .select_from(PublicIpAddress)
        .where(PublicIpAddress.vlan_id == v.id, PublicIpAddress.state != IpState.FREE, PublicIpAddress.removed == None)
    ).one()
    if used:
        raise InUse(f"IP range {v.startip}-{v.endip} has {used} address(es) in use; release them first")
    return svc.delete_range(ctx, v)
