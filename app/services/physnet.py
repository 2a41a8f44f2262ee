"""Physical networks, their traffic types and default providers: the writes and the jobs that answer."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from virga.context import Ctx
from virga.jobs.pending import Pending
from virga.models import NetworkServiceProvider, PhysicalNetwork, TrafficType, utcnow
from virga.models.infra import VirtualRouterElement
from virga.services.simplejobs import echo_job, pending, success_job
from virga.services.states import EnabledState, transition

VR_SERVICES = "Dhcp,Dns,UserData,SourceNat,StaticNat,PortForwarding,Lb,Firewall,Gateway,Vpn"
DEFAULT_PROVIDERS = {"VirtualRouter": VR_SERVICES, "SecurityGroupProvider": "SecurityGroup"}


def add_provider(ctx: Ctx, pn: PhysicalNetwork, name: str, services: str) -> NetworkServiceProvider:
    """Record a network service provider (and the VirtualRouter's element)."""
    nsp = NetworkServiceProvider(name=name, physicalnetwork_id=pn.id or 0, servicelist=services)
    ctx.db.add(nsp)
    ctx.db.flush()
    if name in ("VirtualRouter", "VpcVirtualRouter"):
        ctx.db.add(VirtualRouterElement(nsp_id=nsp.id or 0))
    return nsp


def create_physnet(ctx: Ctx, fields: dict[str, Any]) -> Pending:
    """Record a validated physical network (Disabled) with its default providers."""
    pn = PhysicalNetwork(state=EnabledState.DISABLED, **fields)
    ctx.db.add(pn)
    ctx.db.flush()
    for name, services in DEFAULT_PROVIDERS.items():
        add_provider(ctx, pn, name, services)
    return pending("PhysicalNetwork", pn)


def update_physnet(ctx: Ctx, pn: PhysicalNetwork, *, vlan: str | None, state: str | None, tags: str | None) -> Pending:
    """Change a physical network's VLAN range, enabled state or tags (already validated)."""
    if vlan is not None:
        pn.vlan = vlan
    if state:
        transition(pn, "enable" if state == EnabledState.ENABLED else "disable")
    if tags is not None:
        pn.tags = tags
    ctx.db.add(pn)
    return pending("PhysicalNetwork", pn)


def delete_physnet(ctx: Ctx, pn: PhysicalNetwork) -> Pending:
    """Mark a physical network removed with its traffic types and providers."""
    now = utcnow()
    for model in (TrafficType, NetworkServiceProvider):
        for row in ctx.db.exec(select(model).where(model.physicalnetwork_id == pn.id, model.removed == None)):
            row.removed = now
            ctx.db.add(row)
    pn.removed = now
    ctx.db.add(pn)
    return pending("PhysicalNetwork", pn)


def add_traffic_type(ctx: Ctx, pn: PhysicalNetwork, kind: str, labels: dict[str, Any]) -> Pending:
    """Record a traffic type carried by a physical network."""
    t = TrafficType(physicalnetwork_id=pn.id or 0, traffictype=kind, **labels)
    ctx.db.add(t)
    ctx.db.flush()
    return pending("TrafficType", t)


def update_traffic_type(ctx: Ctx, t: TrafficType, labels: dict[str, str]) -> Pending:
    """Change a traffic type's network labels."""
    for label, value in labels.items():
        setattr(t, label, value)
    ctx.db.add(t)
    return pending("TrafficType", t)


def delete_traffic_type(ctx: Ctx, t: TrafficType) -> Pending:
    """Mark a traffic type removed."""
    t.removed = utcnow()
    ctx.db.add(t)
    return pending("TrafficType", t)


# the synchronous part did the work: each job only answers (restart FAIL)
create_physnet_job = echo_job("createPhysicalNetwork", PhysicalNetwork)
update_physnet_job = echo_job("updatePhysicalNetwork", PhysicalNetwork)
add_traffic_type_job = echo_job("addTrafficType", TrafficType)
update_traffic_type_job = echo_job("updateTrafficType", TrafficType)
delete_physnet_job = success_job("deletePhysicalNetwork")
delete_traffic_type_job = success_job("deleteTrafficType")
