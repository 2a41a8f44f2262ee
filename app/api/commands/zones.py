"""Zones, pods and clusters."""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlmodel import select
from virga import plugins
from virga.api.registry import ADMINS, ROOT, Param, api
from virga.api.response import list_body
from virga.api.views.zones import cluster_view, pod_view, zone_view
from virga.context import Ctx
from virga.errors import InUse, InvalidParameter
from virga.models import Cluster, Host, Network, Pod, StoragePool, Zone
from virga.services import zones as svc
from virga.services.bootstrap import setting
from virga.services.network import DEFAULT_BACKEND

STATES = ("Enabled", "Disabled")


def _check_state(value: str | None, param: str = "allocationstate") -> None:
    """Enabled or Disabled."""
    if value is not None and value not in STATES:
        raise InvalidParameter(f"Parameter {param} must be Enabled or Disabled")


def _check_ip(value: str | None, param: str) -> None:
    """An IPv4 address, when given."""
    if value:
        try:
            ipaddress.IPv4Address(value)
        except ValueError:
            raise InvalidParameter(f"Parameter {param}: {value!r} is not a valid IPv4 address") from None


def _unique(ctx: Ctx, model: Any, name: str, **scope: Any) -> None:
    """Refuse a duplicate name within a scope."""
    stmt = select(model).where(model.name == name, model.removed == None)
    for key, value in scope.items():
        stmt = stmt.where(getattr(model, key) == value)
    if ctx.db.exec(stmt).first() is not None:
        raise InvalidParameter(f"A {model.__name__.lower()} named {name} already exists")


@api(
    "createZone",
    "Creates a zone",
    "zone",
    [
        Param("name", required=True, description="the name of the zone"),
        Param("dns1", required=True, description="the first DNS server for the zone"),
        Param("internaldns1", required=True, description="the first internal DNS server"),
        Param("networktype", required=True, description="Basic or Advanced"),
        Param("dns2", description="the second DNS server"),
        Param("internaldns2", description="the second internal DNS"),
        Param("guestcidraddress", description="the guest CIDR of the zone (Advanced)"),
        Param("domain", description="network domain name of the zone's networks"),
        Param("allocationstate", description="Enabled or Disabled"),
        Param("securitygroupenabled", "boolean", description="true for security groups"),
        Param("localstorageenabled", "boolean", description="true to allow local storage"),
        Param("description", description="a description"),
        Param("details", "map", description="zone details, e.g. router=netns|simulated, host_netns=NAME"),
    ],
    roles=ROOT,
)
def create_zone(ctx: Ctx) -> dict[str, Any]:
    """Create a zone."""
    a = ctx.args
    if a.networktype not in ("Basic", "Advanced"):
        raise InvalidParameter("Parameter networktype must be Basic or Advanced")
    for p in ("dns1", "dns2", "internaldns1", "internaldns2"):
        _check_ip(a.get(p), p)
    if a.guestcidraddress:
        try:
            ipaddress.IPv4Network(a.guestcidraddress)
        except ValueError:
            raise InvalidParameter(f"Parameter guestcidraddress: {a.guestcidraddress!r} is not a CIDR") from None
    _check_state(a.allocationstate)
    _unique(ctx, Zone, a.name)
    fields = dict(
        name=a.name,
        dns1=a.dns1,
        dns2=a.dns2 or "",
        internaldns1=a.internaldns1,
        internaldns2=a.internaldns2 or "",
        networktype=a.networktype,
        guestcidraddress=a.guestcidraddress or ("" if a.networktype == "Basic" else "10.1.1.0/24"),
        domain=a.domain or setting(ctx.db, "guest.domain.suffix", "cloud.internal"),
        allocationstate=a.allocationstate or "Disabled",
        securitygroupsenabled=bool(a.securitygroupenabled or a.networktype == "Basic"),
        localstorageenabled=bool(a.localstorageenabled),
        description=a.description or "",
        details=_details(a.details),
    )
    return {"zone": zone_view(ctx, svc.create(ctx, Zone, fields))}


@api(
    "listZones",
    "Lists zones",
    "zone",
    [
        Param("id", "uuid", description="the ID of the zone"),
        Param("name", description="the name of the zone"),
        Param("available", "boolean", description="true to list only zones the caller can deploy in"),
        Param("networktype", description="Basic or Advanced"),
        Param("showcapacities", "boolean", description="unused"),
        Param("domainid", "uuid", description="unused"),
    ],
    paged=True,
)
def list_zones(ctx: Ctx) -> dict[str, Any]:
    """List zones."""
    stmt = select(Zone)
    if ctx.args.networktype:
        stmt = stmt.where(Zone.networktype == ctx.args.networktype)
    if ctx.role == "User" or ctx.args.available:
        stmt = stmt.where(Zone.allocationstate == "Enabled")
    rows, count = ctx.page(stmt, Zone)
    return list_body("zone", [zone_view(ctx, z) for z in rows], count)


@api(
    "updateZone",
    "Updates a zone",
    "zone",
    [
        Param("id", "uuid", required=True, description="the ID of the zone"),
        Param("name", description="new name"),
        Param("dns1", description="DNS 1"),
        Param("dns2", description="DNS 2"),
        Param("internaldns1", description="internal DNS 1"),
        Param("internaldns2", description="internal DNS 2"),
        Param("allocationstate", description="Enabled or Disabled"),
        Param("domain", description="network domain"),
        Param("guestcidraddress", description="guest CIDR"),
        Param("description", description="a description"),
        Param("details", "map", description="zone details to set"),
    ],
    roles=ROOT,
)
def update_zone(ctx: Ctx) -> dict[str, Any]:
    """Update a zone."""
    z = ctx.get(Zone, ctx.args.id)
    _check_state(ctx.args.allocationstate)
    for p in ("dns1", "dns2", "internaldns1", "internaldns2"):
        _check_ip(ctx.args.get(p), p)
    keys = ("name", "dns1", "dns2", "internaldns1", "internaldns2", "allocationstate", "domain", "guestcidraddress")
    changes = {key: ctx.args[key] for key in (*keys, "description") if ctx.args.get(key) is not None}
    if ctx.args.details:
        changes["details"] = {**(z.details or {}), **_details(ctx.args.details)}
    return {"zone": zone_view(ctx, svc.update(ctx, z, changes))}


def _details(items: list[dict[str, str]] | None) -> dict[str, str]:
    """A details map given as details[0].key=K&details[0].value=V (or details[0].K=V)."""
    out: dict[str, str] = {}
    for item in items or []:
        if "key" in item:
            out[item["key"]] = item.get("value", "")
        else:
            out.update(item)
    registered = plugins.names(plugins.ROUTER_BACKENDS)  # entry-point group virga.router_backends
    backends = [DEFAULT_BACKEND, *(b for b in registered if b != DEFAULT_BACKEND)]
    if out.get("router", DEFAULT_BACKEND) not in registered:
        raise InvalidParameter(f"Parameter details: router must be {' or '.join(backends)}")
    return out


def _refuse_if_children(ctx: Ctx, what: str, checks: list[tuple[Any, Any]]) -> None:
    """536 when a resource still has children."""
    for model, cond in checks:
        if ctx.db.exec(select(model).where(cond, model.removed == None)).first() is not None:
            raise InUse(f"The {what} is not deletable because it still has {model.__name__.lower()}s")


@api(
    "deleteZone", "Deletes a zone", "success", [Param("id", "uuid", required=True, description="the zone")], roles=ROOT
)
def delete_zone(ctx: Ctx) -> dict[str, Any]:
    """Delete an empty zone."""
    z = ctx.get(Zone, ctx.args.id)
    _refuse_if_children(ctx, "zone", [(Pod, Pod.zone_id == z.id), (Network, Network.zone_id == z.id)])
    return svc.delete(ctx, z)


@api(
    "createPod",
    "Creates a pod",
    "pod",
    [
        Param("name", required=True, description="the name of the pod"),
        Param("zoneid", "uuid", required=True, description="the zone"),
        Param("gateway", description="the gateway of the pod's management network"),
        Param("netmask", description="the netmask"),
        Param("startip", description="first reserved IP"),
        Param("endip", description="last reserved IP"),
        Param("allocationstate", description="Enabled or Disabled"),
    ],
    roles=ROOT,
)
def create_pod(ctx: Ctx) -> dict[str, Any]:
    """Create a pod."""
    a = ctx.args
    z = ctx.get(Zone, a.zoneid, "zoneid")
    for p in ("gateway", "netmask", "startip", "endip"):
        _check_ip(a.get(p), p)
    _check_state(a.allocationstate)
    _unique(ctx, Pod, a.name, zone_id=z.id)
    fields = dict(
        name=a.name,
        zone_id=z.id or 0,
        gateway=a.gateway or "",
        netmask=a.netmask or "",
        startip=a.startip or "",
        endip=a.endip or "",
        allocationstate=a.allocationstate or "Enabled",
    )
    return {"pod": pod_view(ctx, svc.create(ctx, Pod, fields))}


@api(
    "listPods",
    "Lists pods",
    "pod",
    [
        Param("id", "uuid", description="the pod"),
        Param("name", description="the name"),
        Param("zoneid", "uuid", description="the zone"),
        Param("allocationstate", description="state"),
        Param("showcapacities", "boolean", description="unused"),
    ],
    roles=ADMINS,
    paged=True,
)
def list_pods(ctx: Ctx) -> dict[str, Any]:
    """List pods."""
    stmt = select(Pod)
    if ctx.args.zoneid:
        stmt = stmt.where(Pod.zone_id == ctx.get(Zone, ctx.args.zoneid, "zoneid").id)
    if ctx.args.allocationstate:
        stmt = stmt.where(Pod.allocationstate == ctx.args.allocationstate)
    rows, count = ctx.page(stmt, Pod)
    return list_body("pod", [pod_view(ctx, p) for p in rows], count)


@api(
    "updatePod",
    "Updates a pod",
    "pod",
    [
        Param("id", "uuid", required=True, description="the pod"),
        Param("name", description="new name"),
        Param("allocationstate", description="Enabled or Disabled"),
        Param("gateway", description="gateway"),
        Param("netmask", description="netmask"),
        Param("startip", description="start IP"),
        Param("endip", description="end IP"),
    ],
    roles=ROOT,
)
def update_pod(ctx: Ctx) -> dict[str, Any]:
    """Update a pod."""
    p = ctx.get(Pod, ctx.args.id)
    _check_state(ctx.args.allocationstate)
    keys = ("name", "allocationstate", "gateway", "netmask", "startip", "endip")
    changes = {key: ctx.args[key] for key in keys if ctx.args.get(key) is not None}
    return {"pod": pod_view(ctx, svc.update(ctx, p, changes))}


@api("deletePod", "Deletes a pod", "success", [Param("id", "uuid", required=True, description="the pod")], roles=ROOT)
def delete_pod(ctx: Ctx) -> dict[str, Any]:
    """Delete an empty pod."""
    p = ctx.get(Pod, ctx.args.id)
    _refuse_if_children(ctx, "pod", [(Cluster, Cluster.pod_id == p.id)])
    return svc.delete(ctx, p)


@api(
    "addCluster",
    "Adds a cluster",
    "cluster",
    [
        Param("clustername", required=True, description="the name of the cluster"),
        Param("zoneid", "uuid", required=True, description="the zone"),
        Param("podid", "uuid", required=True, description="the pod"),
        Param("hypervisor", required=True, description="KVM, XenServer, VMware or Simulator"),
        Param("clustertype", required=True, description="CloudManaged or ExternalManaged"),
        Param("allocationstate", description="Enabled or Disabled"),
        Param("url", description="vCenter URL"),
        Param("username", description="vCenter user"),
        Param("password", description="vCenter password"),
        Param("vsmipaddress", description="unused"),
    ],
    roles=ROOT,
)
async def add_cluster(ctx: Ctx) -> dict[str, Any]:
    """Add a cluster to a pod; a XenServer pool or vCenter URL is discovered and its inventory imported."""
    from virga.drivers.registry import hypervisors
    from virga.services import importer

    a = ctx.args
    z, p = ctx.get(Zone, a.zoneid, "zoneid"), ctx.get(Pod, a.podid, "podid")
    if p.zone_id != z.id:
        raise InvalidParameter(f"Pod {p.name} is not in zone {z.name}")
    if a.hypervisor.lower() not in hypervisors():
        raise InvalidParameter(f"Parameter hypervisor: {a.hypervisor!r} is not one of {', '.join(hypervisors())}")
    _check_state(a.allocationstate)
    _unique(ctx, Cluster, a.clustername, pod_id=p.id)
    found = await importer.discover_url(canonical_hypervisor(a.hypervisor), a.url, a.username, a.password)
    fields = dict(
        name=a.clustername,
        zone_id=z.id or 0,
        pod_id=p.id or 0,
        hypervisor=canonical_hypervisor(a.hypervisor),
        clustertype=a.clustertype,
        allocationstate=a.allocationstate or "Enabled",
        url=a.url or "",
    )
    return {"count": 1, "cluster": [cluster_view(ctx, svc.add_cluster(ctx, fields, found))]}


def canonical_hypervisor(name: str) -> str:
    """CloudStack's spelling of a hypervisor name (the name its driver is registered under)."""
    from virga.drivers.registry import canonical

    return canonical(name)


@api(
    "listClusters",
    "Lists clusters",
    "cluster",
    [
        Param("id", "uuid", description="the cluster"),
        Param("name", description="the name"),
        Param("zoneid", "uuid", description="the zone"),
        Param("podid", "uuid", description="the pod"),
        Param("hypervisor", description="hypervisor type"),
        Param("allocationstate", description="state"),
        Param("managedstate", description="state"),
        Param("showcapacities", "boolean", description="unused"),
    ],
    roles=ADMINS,
    paged=True,
)
def list_clusters(ctx: Ctx) -> dict[str, Any]:
    """List clusters."""
    stmt = select(Cluster)
    if ctx.args.zoneid:
        stmt = stmt.where(Cluster.zone_id == ctx.get(Zone, ctx.args.zoneid, "zoneid").id)
    if ctx.args.podid:
        stmt = stmt.where(Cluster.pod_id == ctx.get(Pod, ctx.args.podid, "podid").id)
    if ctx.args.hypervisor:
        stmt = stmt.where(Cluster.hypervisor == canonical_hypervisor(ctx.args.hypervisor))
    if ctx.args.allocationstate:
        stmt = stmt.where(Cluster.allocationstate == ctx.args.allocationstate)
    rows, count = ctx.page(stmt, Cluster)
    return list_body("cluster", [cluster_view(ctx, c) for c in rows], count)


@api(
    "updateCluster",
    "Updates a cluster",
    "cluster",
    [
        Param("id", "uuid", required=True, description="the cluster"),
        Param("clustername", description="new name"),
        Param("allocationstate", description="Enabled or Disabled"),
        Param("managedstate", description="state"),
    ],
    roles=ROOT,
)
def update_cluster(ctx: Ctx) -> dict[str, Any]:
    """Update a cluster."""
    c = ctx.get(Cluster, ctx.args.id)
    _check_state(ctx.args.allocationstate)
    changes = {"name": ctx.args.clustername, "allocationstate": ctx.args.allocationstate}
    return {"cluster": cluster_view(ctx, svc.update(ctx, c, {k: v for k, v in changes.items() if v}))}


@api(
    "deleteCluster",
    "Deletes a cluster",
    "success",
    [Param("id", "uuid", required=True, description="cluster")],
    roles=ROOT,
)
def delete_cluster(ctx: Ctx) -> dict[str, Any]:
    """Delete an empty cluster."""
    c = ctx.get(Cluster, ctx.args.id)
    _refuse_if_children(
        ctx, "cluster", [(Host, Host.cluster_id == c.id), (StoragePool, StoragePool.cluster_id == c.id)]
    )
    return svc.delete(ctx, c)
