"""Host records: addHost (through the driver), updateHost, deleteHost and the maintenance request."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from sqlmodel import select
from virga.context import Ctx
from virga.drivers.base import AuthenticationFailed, DriverError, HostUnreachable, NotSupported
from virga.drivers.registry import make_driver
from virga.errors import InvalidParameter, Unavailable
from virga.jobs.pending import Pending
from virga.models import Cluster, Host, Pod, VirtualMachine, Zone, utcnow
from virga.services import builtins, importer
from virga.services.hostpool import connection_of
from virga.services.hostsetup import prepare_host
from virga.services.states import transition

ACTIVE_VM_STATES = ("Starting", "Running", "Stopping", "Migrating")


async def add_host(ctx: Ctx, zone: Zone, pod: Pod, cluster: Cluster, url: str) -> list[Host]:
    """Connect to a host (or a pool/vCenter that lists its hosts) through its driver and record it."""
    a = ctx.args
    if importer.imports_inventory(cluster.hypervisor):
        return await importer.add_hosts(ctx.db, cluster, a.url, a.username, a.password, ctx.account)
    host = Host(
        name="",
        zone_id=zone.id or 0,
        pod_id=pod.id or 0,
        cluster_id=cluster.id or 0,
        hypervisor=cluster.hypervisor,
        url=url,
        username=a.username,
        password=a.password,
        hosttags=a.hosttags or "",
        resourcestate=a.allocationstate or "Enabled",
    )
    conn = await prepare_host(host, connection_of(host))  # the hypervisor's setup hook (KVM over SSH)
    host.url, host.options = conn.url, dict(conn.options)
    drv = make_driver(host.hypervisor, conn)
    try:
        facts = await drv.connect()
    except AuthenticationFailed as exc:
        raise InvalidParameter(f"Unable to add the host: wrong credentials ({exc})") from None
    except (HostUnreachable, NotSupported, DriverError) as exc:
        raise Unavailable(f"Unable to add the host: {exc}") from None
    finally:
        await drv.close()
    if ctx.db.exec(select(Host).where(Host.url == host.url, Host.removed == None)).first():
        raise InvalidParameter(f"A host with URL {host.url} already exists")
    importer.apply_facts(host, facts, drv.capabilities)
    host.ipaddress = urlparse(host.url).hostname or facts.name
    ctx.db.add(host)
    ctx.db.flush()
    builtins.ensure_builtin_templates(ctx.db, zone, host.hypervisor, drv.builtin_templates)
    return [host]


def update_host(ctx: Ctx, h: Host, resourcestate: str | None, hosttags: str | None, name: str | None) -> Host:
    """Change a host's allocation state, tags or name (already validated)."""
    if resourcestate is not None:
        h.resourcestate = resourcestate
    if hosttags is not None:
        h.hosttags = ",".join(t.strip() for t in hosttags.split(",") if t.strip())
    if name:
        h.name = name
    ctx.db.add(h)
    return h


async def delete_host(ctx: Ctx, h: Host) -> dict[str, Any]:
    """Remove a host: its VMs lose their placement (active ones are marked Stopped), its driver is dropped."""
    for vm in ctx.db.exec(select(VirtualMachine).where(VirtualMachine.host_id == h.id)):
        vm.last_host_id, vm.host_id = None, None
        if vm.state in ACTIVE_VM_STATES:
            transition(vm, "seen_stopped")
        ctx.db.add(vm)
    transition(h, "remove")
    h.removed = utcnow()
    ctx.db.add(h)
    await ctx.app.hosts.drop(h.id or 0)
    return {"success": True}


def request_maintenance(ctx: Ctx, h: Host) -> Pending:
    """Mark the host PrepareForMaintenance and hand over the evacuation job."""
    h.resourcestate = "PrepareForMaintenance"
    ctx.db.add(h)
    return Pending("Host", h.uuid, {"id": h.uuid})
