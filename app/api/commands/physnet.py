"""Physical networks and the traffic types they carry."""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import select
from virga.api.commands.infra_util import echo_job, one_of, pending, success_job, tag_list, unique_name
from virga.api.dispatch import Pending
from virga.api.registry import ROOT, Param, api
from virga.api.response import clean, list_body
from virga.api.views.common import ref
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.errors import InUse, InvalidParameter
from virga.models import Network, NetworkServiceProvider, PhysicalNetwork, TrafficType, VlanIpRange, Zone, utcnow
from virga.models.infra import VirtualRouterElement

ISOLATION = ("VLAN", "VXLAN", "GRE", "STT", "L3")
TRAFFIC = ("Public", "Guest", "Management", "Storage")
LABELS = ("kvmnetworklabel", "xennetworklabel", "vmwarenetworklabel")
MAX_TAG = {"VLAN": 4094, "VXLAN": 16777214}
VR_SERVICES = "Dhcp,Dns,UserData,SourceNat,StaticNat,PortForwarding,Lb,Firewall,Gateway,Vpn"
DEFAULT_PROVIDERS = {"VirtualRouter": VR_SERVICES, "SecurityGroupProvider": "SecurityGroup"}
FIELDS.update(
    {
        "physicalnetwork": "id name zoneid zonename state vlan isolationmethods broadcastdomainrange tags networkspeed",
        "traffictype": "id traffictype physicalnetworkid kvmnetworklabel xennetworklabel vmwarenetworklabel",
    }
)


def physnet_view(ctx: Ctx, p: PhysicalNetwork) -> dict[str, Any]:
    """A physicalnetwork response object."""
    return clean(
        {
            "id": p.uuid,
            "name": p.name,
            **ref(ctx, Zone, p.zone_id, "zone"),
            "state": p.state,
            "vlan": p.vlan or None,
            "isolationmethods": p.isolationmethods,
            "broadcastdomainrange": p.broadcastdomainrange,
            "tags": p.tags or None,
            "networkspeed": "1G",
        }
    )


def traffic_view(ctx: Ctx, t: TrafficType) -> dict[str, Any]:
    """A traffictype response object."""
    pn = ctx.by_id(PhysicalNetwork, t.physicalnetwork_id)
    return clean(
        {
            "id": t.uuid,
            "traffictype": t.traffictype,
            "physicalnetworkid": pn.uuid if pn else None,
            **{label: getattr(t, label) or None for label in LABELS},
        }
    )


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


def add_provider(ctx: Ctx, pn: PhysicalNetwork, name: str, services: str) -> NetworkServiceProvider:
    """Record a network service provider (and the VirtualRouter's element)."""
    nsp = NetworkServiceProvider(name=name, physicalnetwork_id=pn.id or 0, servicelist=services)
    ctx.db.add(nsp)
    ctx.db.flush()
    if name in ("VirtualRouter", "VpcVirtualRouter"):
        ctx.db.add(VirtualRouterElement(nsp_id=nsp.id or 0))
    return nsp


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
    pn = PhysicalNetwork(
        name=a.name,
        zone_id=zone.id or 0,
        isolationmethods=method,
        vlan=vlan,
        broadcastdomainrange=bdr,
        tags=tag_list(",".join(a.tags or [])),
        state="Disabled",
    )
    ctx.db.add(pn)
    ctx.db.flush()
    for name, services in DEFAULT_PROVIDERS.items():
        add_provider(ctx, pn, name, services)
    return pending("PhysicalNetwork", pn)


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
    if a.vlan is not None:
        pn.vlan = check_vlan(a.vlan, pn.isolationmethods) if a.vlan else ""
    if state:
        pn.state = state
    if a.tags is not None:
        pn.tags = tag_list(",".join(a.tags))
    ctx.db.add(pn)
    return pending("PhysicalNetwork", pn)


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
    now = utcnow()
    for model in (TrafficType, NetworkServiceProvider):
        for row in ctx.db.exec(select(model).where(model.physicalnetwork_id == pn.id, model.removed == None)):
            row.removed = now
            ctx.db.add(row)
    pn.removed = now
    ctx.db.add(pn)
    return pending("PhysicalNetwork", pn)


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
    t = TrafficType(physicalnetwork_id=pn.id or 0, traffictype=kind, **{label: a.get(label) or "" for label in LABELS})
    ctx.db.add(t)
    ctx.db.flush()
    return pending("TrafficType", t)


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
    for label in LABELS:
        if ctx.args.get(label) is not None:
            setattr(t, label, ctx.args[label])
    ctx.db.add(t)
    return pending("TrafficType", t)


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
    t.removed = utcnow()
    ctx.db.add(t)
    return pending("TrafficType", t)


_createPhysicalNetwork_job = echo_job("createPhysicalNetwork", PhysicalNetwork, "physicalnetwork", physnet_view)
_updatePhysicalNetwork_job = echo_job("updatePhysicalNetwork", PhysicalNetwork, "physicalnetwork", physnet_view)
_addTrafficType_job = echo_job("addTrafficType", TrafficType, "traffictype", traffic_view)
_updateTrafficType_job = echo_job("updateTrafficType", TrafficType, "traffictype", traffic_view)
_deletePhysicalNetwork_job = success_job("deletePhysicalNetwork")
_deleteTrafficType_job = success_job("deleteTrafficType")
