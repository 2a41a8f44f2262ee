"""Hosts: add (through the driver), list with capacity, update, maintenance, delete."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from sqlmodel import col, func, select
from virga.api.dispatch import Pending
from virga.api.registry import ADMINS, ROOT, Param, api
from virga.api.response import list_body
from virga.api.views.hosts import host_view
from virga.context import Ctx
from virga.errors import InUse, InvalidParameter
from virga.models import Cluster, Host, Pod, VirtualMachine, Zone
from virga.services import hosts as svc
from virga.services import importer
from virga.services.hosts import ACTIVE_VM_STATES


def _hypervisor_url(hypervisor: str, url: str) -> str:
    """Validate an addHost URL (a scheme and a host part are needed)."""
    parsed = urlparse(url)
    if not parsed.scheme or not (parsed.netloc or parsed.path):
        raise InvalidParameter(f"Parameter url: {url!r} is not a URL such as http://host or qemu:///system")
    return url


@api(
    "addHost",
    "Adds a hypervisor host",
    "host",
    [
        Param("zoneid", "uuid", required=True, description="the zone"),
        Param("podid", "uuid", required=True, description="the pod"),
        Param("clusterid", "uuid", description="the cluster (or clustername)"),
        Param("clustername", description="the cluster's name"),
        Param("hypervisor", required=True, description="the hypervisor of the host"),
        Param("url", required=True, description="the host URL: http://address for KVM over SSH, qemu:///system, ..."),
        Param("username", description="the username of the host"),
        Param("password", description="its password"),
        Param("hosttags", description="comma-separated host tags"),
        Param("allocationstate", description="Enabled or Disabled"),
    ],
    roles=ROOT,
)
async def add_host(ctx: Ctx) -> dict[str, Any]:
    """Connect to a host through its driver, read its facts and record it."""
    a = ctx.args
    zone, pod = ctx.get(Zone, a.zoneid, "zoneid"), ctx.get(Pod, a.podid, "podid")
    cluster = _cluster_of(ctx, pod)
    if cluster.hypervisor.lower() != a.hypervisor.lower():
        raise InvalidParameter(f"Cluster {cluster.name} is a {cluster.hypervisor} cluster, not {a.hypervisor}")
    url = a.url if importer.imports_inventory(cluster.hypervisor) else _hypervisor_url(a.hypervisor, a.url)
    added = await svc.add_host(ctx, zone, pod, cluster, url)
    return {"count": len(added), "host": [host_view(ctx, h) for h in added]}


def _cluster_of(ctx: Ctx, pod: Pod) -> Cluster:
    """The cluster named by clusterid or clustername."""
    a = ctx.args
    cluster: Cluster | None
    if a.clusterid:
        cluster = ctx.get(Cluster, a.clusterid, "clusterid")
    elif a.clustername:
        cluster = ctx.db.exec(
            select(Cluster).where(Cluster.name == a.clustername, Cluster.pod_id == pod.id, Cluster.removed == None)
        ).first()
        if cluster is None:
            raise InvalidParameter(f"Unable to find cluster {a.clustername} in pod {pod.name}")
    else:
        raise InvalidParameter("Missing parameter clusterid")
    if cluster.pod_id != pod.id:
        raise InvalidParameter(f"Cluster {cluster.name} is not in pod {pod.name}")
    return cluster


@api(
    "listHosts",
    "Lists hosts",
    "host",
    [
        Param("id", "uuid", description="the host"),
        Param("name", description="the name"),
        Param("zoneid", "uuid", description="the zone"),
        Param("podid", "uuid", description="the pod"),
        Param("clusterid", "uuid", description="the cluster"),
        Param("type", description="the host type"),
        Param("state", description="the state"),
        Param("resourcestate", description="the resource state"),
        Param("hypervisor", description="the hypervisor"),
        Param("hostname", description="unused"),
        Param("details", "list", description="unused"),
        Param("virtualmachineid", "uuid", description="host of a VM"),
        Param("hatags", description="unused"),
        Param("outofbandmanagementenabled", "boolean", description="unused"),
    ],
    roles=ADMINS,
    paged=True,
)
def list_hosts(ctx: Ctx) -> dict[str, Any]:
    """List hosts."""
    a = ctx.args
    stmt = select(Host)
    for param, model, column in (
        ("zoneid", Zone, Host.zone_id),
        ("podid", Pod, Host.pod_id),
        ("clusterid", Cluster, Host.cluster_id),
    ):
        if a.get(param):
            stmt = stmt.where(column == ctx.get(model, a[param], param).id)
    for param, field in (
        ("type", Host.type),
        ("state", Host.state),
        ("resourcestate", Host.resourcestate),
        ("hypervisor", Host.hypervisor),
    ):
        if a.get(param):
            stmt = stmt.where(field == a[param])
    if a.virtualmachineid:
        stmt = stmt.where(Host.id == ctx.get(VirtualMachine, a.virtualmachineid, "virtualmachineid").host_id)
    rows, count = ctx.page(stmt, Host)
    for model, attr in ((Zone, "zone_id"), (Pod, "pod_id"), (Cluster, "cluster_id")):
        ctx.preload(model, {getattr(h, attr) for h in rows})
    return list_body("host", [host_view(ctx, h) for h in rows], count)


@api(
    "updateHost",
    "Updates a host",
    "host",
    [
        Param("id", "uuid", required=True, description="the host"),
        Param("hosttags", description="host tags"),
        Param("allocationstate", description="Enable or Disable"),
        Param("name", description="new name"),
    ],
    roles=ROOT,
)
def update_host(ctx: Ctx) -> dict[str, Any]:
    """Change a host's tags, name or allocation state."""
    h = ctx.get(Host, ctx.args.id)
    state = ctx.args.allocationstate
    if state is not None:
        if state not in ("Enable", "Disable"):
            raise InvalidParameter("Parameter allocationstate must be Enable or Disable")
        if h.resourcestate in ("PrepareForMaintenance", "Maintenance", "ErrorInMaintenance"):
            raise InvalidParameter(f"Host {h.name} is in {h.resourcestate}; cancel maintenance first")
    resourcestate = None if state is None else "Enabled" if state == "Enable" else "Disabled"
    return {"host": host_view(ctx, svc.update_host(ctx, h, resourcestate, ctx.args.hosttags, ctx.args.name))}


@api(
    "deleteHost",
    "Deletes a host",
    "success",
    [
        Param("id", "uuid", required=True, description="the host"),
        Param("forced", "boolean", description="delete even with VMs (they are marked Stopped)"),
        Param("forcedestroylocalstorage", "boolean", description="unused"),
    ],
    roles=ROOT,
)
async def delete_host(ctx: Ctx) -> dict[str, Any]:
    """Remove a host that runs no VM (or, forced, forget its VMs' placement)."""
    h = ctx.get(Host, ctx.args.id)
    active = ctx.db.exec(
        select(func.count())
        .select_from(VirtualMachine)
        .where(
            VirtualMachine.host_id == h.id,
            VirtualMachine.removed == None,
            col(VirtualMachine.state).in_(ACTIVE_VM_STATES),
        )
    ).one()
    if active and not ctx.args.forced:
        raise InUse(f"Host {h.name} still runs {active} VM(s); stop or migrate them, or use forced=true")
    if h.resourcestate not in ("Maintenance", "Disabled") and not ctx.args.forced:
        raise InvalidParameter(f"Host {h.name} must be in maintenance or disabled before it is deleted")
    return await svc.delete_host(ctx, h)


@api(
    "prepareHostForMaintenance",
    "Puts a host into maintenance: its VMs migrate or stop",
    "host",
    [Param("id", "uuid", required=True, description="the host")],
    roles=ROOT,
    is_async=True,
)
def prepare_maintenance(ctx: Ctx) -> Pending:
    """Mark the host PrepareForMaintenance and queue the evacuation."""
    h = ctx.get(Host, ctx.args.id)
    if h.resourcestate not in ("Enabled", "Disabled", "ErrorInMaintenance"):
        raise InvalidParameter(f"Host {h.name} is already in {h.resourcestate}")
    return svc.request_maintenance(ctx, h)


@api(
    "cancelHostMaintenance",
    "Takes a host out of maintenance",
    "host",
    [Param("id", "uuid", required=True, description="the host")],
    roles=ROOT,
    is_async=True,
)
def cancel_maintenance(ctx: Ctx) -> Pending:
    """Queue the return of a host to service."""
    h = ctx.get(Host, ctx.args.id)
    if h.resourcestate not in ("Maintenance", "PrepareForMaintenance", "ErrorInMaintenance"):
        raise InvalidParameter(f"Host {h.name} is not in maintenance")
    return Pending("Host", h.uuid, {"id": h.uuid})


@api(
    "reconnectHost",
    "Reconnects a host",
    "host",
    [Param("id", "uuid", required=True, description="the host")],
    roles=ROOT,
    is_async=True,
)
def reconnect_host(ctx: Ctx) -> Pending:
    """Queue a reconnection to a host."""
    h = ctx.get(Host, ctx.args.id)
    return Pending("Host", h.uuid, {"id": h.uuid})
