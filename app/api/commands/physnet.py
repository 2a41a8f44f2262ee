"""Physical networks and the traffic types they carry: parameters and checks (writes: virga.services.physnet)."""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import select
from virga.api.dispatch import Pending
from virga.api.registry import ROOT, Param, api
from virga.api.response import list_body
from virga.api.validators import one_of, tag_list, unique_name
from virga.api.views.physnet import LABELS, physnet_view, traffic_view
from virga.context import Ctx
from virga.errors import InUse, InvalidParameter
from virga.models import Network, PhysicalNetwork, TrafficType, VlanIpRange, Zone
from virga.services import physnet as svc

ISOLATION = ("VLAN", "VXLAN", "GRE", "STT", "L3")
TRAFFIC = ("Public", "Guest", "Management", "Storage")
MAX_TAG = {"VLAN": 4094, "VXLAN": 16777214}


def check_vlan(value: str, method: str) -> str:
    """A VLAN/VNI range list like 100-199,300 within the isolation method's limits."""
    top = MAX_TAG.get(method, 16777214)
    parts = [p.strip() for p in value.split(",") if p.strip()]
    for part in parts:
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise InvalidParameter(f"Parameter vlan: {part!r} is not a number or a range like 100-199")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if not 1 <= lo <= hi <= top:
            raise InvalidParameter(f"Parameter vlan: range {part} must lie within 1-{top} with start <= end")
    return ",".join(parts)


def _isolation(value: list[str] | None) -> str:
    """The isolation method (one is supported per physical network)."""
    methods = [one_of(m, ISOLATION, "isolationmethods") or "" for m in (value or ["VLAN"])]
    if len(methods) != 1:
        raise InvalidParameter("Parameter isolationmethods: give exactly one isolation method")
    return methods[0]


@api(
    "createPhysicalNetwork",
    "Creates a physical network",
    "physicalnetwork",
    [
        Param("zoneid", "uuid", required=True, description="the zone"),
        Param("name", required=True, description="the name"),
        Param("isolationmethods", "list", description="VLAN (default), VXLAN, GRE, STT or L3"),
        Param("vlan", description="the VLAN/VNI range for guest networks, e.g. 100-199"),
        Param("broadcastdomainrange", description="ZONE or POD"),
        Param("tags", "list", description="tags"),
        Param("networkspeed", description="unused"),
        Param("domainid", "uuid", description="unused"),
    ],
    roles=ROOT,
    is_async=True,
)
def create_physnet(ctx: Ctx) -> Pending:
    """Record a physical network with its VirtualRouter and SecurityGroupProvider providers."""
    a = ctx.args
    zone = ctx.get(Zone, a.zoneid, "zoneid")
    method = _isolation(a.isolationmethods)
    vlan = check_vlan(a.vlan, method) if a.vlan else ""
    bdr = one_of(a.broadcastdomainrange or "ZONE", ("ZONE", "POD"), "broadcastdomainrange") or "ZONE"
    unique_name(ctx, PhysicalNetwork, a.name, "physical network", zone_id=zone.id)
    fields = {
        "name": a.name,
        "zone_id": zone.id or 0,
        "isolationmethods": method,
        "vlan": vlan,
        "broadcastdomainrange": bdr,
        "tags": tag_list(",".join(a.tags or [])),
    }
    return svc.create_physnet(ctx, fields)


@api(
    "listPhysicalNetworks",
    "Lists physical networks",
    "physicalnetwork",
    [
        Param("id", "uuid", description="the physical network"),
        Param("name", description="the name"),
        Param("zoneid", "uuid", description="the zone"),
    ],
    roles=ROOT,
    paged=True,
)
def list_physnets(ctx: Ctx) -> dict[str, Any]:
    """List physical networks."""
    stmt = select(PhysicalNetwork)
    if ctx.args.zoneid:
        stmt = stmt.where(PhysicalNetwork.zone_id == ctx.get(Zone, ctx.args.zoneid, "zoneid").id)
    rows, count = ctx.page(stmt, PhysicalNetwork)
    ctx.preload(Zone, {p.zone_id for p in rows})
    return list_body("physicalnetwork", [physnet_view(ctx, p) for p in rows], count)


@api(
    "updatePhysicalNetwork",
    "Updates a physical network",
    "physicalnetwork",
    [
        Param("id", "uuid", required=True, description="the physical network"),
        Param("state", description="Enabled or Disabled"),
        Param("vlan", description="the VLAN/VNI range"),
        Param("tags", "list", description="tags"),
        Param("networkspeed", description="unused"),
    ],
    roles=ROOT,
    is_async=True,
)
def update_physnet(ctx: Ctx) -> Pending:
    """Enable/disable a physical network or change its VLAN range and tags."""
    a = ctx.args
    pn = ctx.get(PhysicalNetwork, a.id)
    state = one_of(a.state, ("Enabled", "Disabled"), "state")
    vlan = None if a.vlan is None else check_vlan(a.vlan, pn.isolationmethods) if a.vlan else ""
    tags = tag_list(",".join(a.tags)) if a.tags is not None else None
    return svc.update_physnet(ctx, pn, vlan=vlan, state=state, tags=tags)


@api(
    "deletePhysicalNetwork",
    "Deletes a physical network",
    "success",
    [Param("id", "uuid", required=True, description="the physical network")],
    roles=ROOT,
    is_async=True,
)
def delete_physnet(ctx: Ctx) -> Pending:
    """Delete a physical network no guest network or IP range uses, with its traffic types and providers."""
    pn = ctx.get(PhysicalNetwork, ctx.args.id)
    for model, what in ((Network, "guest network"), (VlanIpRange, "IP range")):
        if ctx.db.exec(select(model).where(model.physicalnetwork_id == pn.id, model.removed == None)).first():
            raise InUse(f"Physical network {pn.name} is still used by a {what}; delete it first")
    return svc.delete_physnet(ctx, pn)


@api(
    "addTrafficType",
    "Adds a traffic type to a physical network",
    "traffictype",
    [
        Param("physicalnetworkid", "uuid", required=True, description="the physical network"),
        Param("traffictype", required=True, description="Public, Guest, Management or Storage"),
        Param("kvmnetworklabel", description="the KVM bridge"),
        Param("xennetworklabel", description="the Xen network"),
        Param("vmwarenetworklabel", description="the vSwitch/port group"),
        Param("hypervnetworklabel", description="unused"),
        Param("ovm3networklabel", description="unused"),
        Param("isolationmethod", description="unused"),
        Param("vlan", description="unused"),
    ],
    roles=ROOT,
    is_async=True,
)
def add_traffic_type(ctx: Ctx) -> Pending:
    """Record a traffic type carried by a physical network."""
    a = ctx.args
    pn = ctx.get(PhysicalNetwork, a.physicalnetworkid, "physicalnetworkid")
    kind = one_of(a.traffictype, TRAFFIC, "traffictype") or ""
    if ctx.db.exec(
        select(TrafficType).where(
            TrafficType.physicalnetwork_id == pn.id, TrafficType.traffictype == kind, TrafficType.removed == None
        )
    ).first():
        raise InvalidParameter(f"Physical network {pn.name} already carries {kind} traffic (parameter traffictype)")
    return svc.add_traffic_type(ctx, pn, kind, {label: a.get(label) or "" for label in LABELS})


@api(
    "listTrafficTypes",
    "Lists the traffic types of a physical network",
    "traffictype",
    [
        Param("physicalnetworkid", "uuid", required=True, description="the physical network"),
    ],
    roles=ROOT,
    paged=True,
)
def list_traffic_types(ctx: Ctx) -> dict[str, Any]:
    """List traffic types."""
    pn = ctx.get(PhysicalNetwork, ctx.args.physicalnetworkid, "physicalnetworkid")
    rows, count = ctx.page(
        select(TrafficType).where(TrafficType.physicalnetwork_id == pn.id), TrafficType, keyword=("traffictype",)
    )
    return list_body("traffictype", [traffic_view(ctx, t) for t in rows], count)


@api(
    "updateTrafficType",
    "Updates a traffic type's network labels",
    "traffictype",
    [
        Param("id", "uuid", required=True, description="the traffic type"),
        Param("kvmnetworklabel", description="the KVM bridge"),
        Param("xennetworklabel", description="the Xen network"),
        Param("vmwarenetworklabel", description="the vSwitch/port group"),
        Param("hypervnetworklabel", description="unused"),
        Param("ovm3networklabel", description="unused"),
    ],
    roles=ROOT,
    is_async=True,
)
def update_traffic_type(ctx: Ctx) -> Pending:
    """Change a traffic type's labels."""
    t = ctx.get(TrafficType, ctx.args.id)
    labels = {label: ctx.args[label] for label in LABELS if ctx.args.get(label) is not None}
    return svc.update_traffic_type(ctx, t, labels)


@api(
    "deleteTrafficType",
    "Deletes a traffic type",
    "success",
    [Param("id", "uuid", required=True, description="the traffic type")],
    roles=ROOT,
    is_async=True,
)
def delete_traffic_type(ctx: Ctx) -> Pending:
    """Remove a traffic type (refused for Public while IP ranges use the physical network)."""
    t = ctx.get(TrafficType, ctx.args.id)
    if (
        t.traffictype == "Public"
        and ctx.db.exec(
            select(VlanIpRange).where(
                VlanIpRange.physicalnetwork_id == t.physicalnetwork_id, VlanIpRange.removed == None
            )
        ).first()
    ):
        raise InUse("Public traffic still has IP ranges on this physical network; delete them first")
    if (
        t.traffictype == "Guest"
        and ctx.db.exec(
            select(Network).where(Network.physicalnetwork_id == t.physicalnetwork_id, Network.removed == None)
        ).first()
    ):
        raise InUse("Guest traffic still has networks on this physical network; delete them first")
    return svc.delete_traffic_type(ctx, t)
