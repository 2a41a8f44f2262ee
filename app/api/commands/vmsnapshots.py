"""VM snapshot commands: create (disk, or disk and memory), list, revert and delete."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from virga.api.dispatch import Pending
from virga.api.registry import Param, api
from virga.api.response import list_body
from virga.api.views.vmsnapshots import vmsnapshot_views
from virga.context import Ctx
from virga.drivers.base import Capability, DriverError
from virga.drivers.registry import driver_class
from virga.errors import InUse, InvalidParameter, Unsupported
from virga.models import AsyncJob, Host, VirtualMachine, VMSnapshot
from virga.services import vmsnapshots
from virga.services.states import VmState


def _capabilities(ctx: Ctx, vm: VirtualMachine) -> frozenset[Capability]:
    """What the driver of the VM's host declares."""
    host = ctx.by_id(Host, vm.host_id or vm.last_host_id)
    if host is None:
        raise InvalidParameter(f"VM {vm.name} has never been placed on a host")
    try:
        return driver_class(host.hypervisor).capabilities
    except DriverError as exc:
        raise InvalidParameter(str(exc)) from None


def _busy(ctx: Ctx, vm: VirtualMachine) -> None:
    """Refuse while another job works on the VM or one of its snapshots."""
    uuids = [vm.uuid] + [s.uuid for s in ctx.db.exec(select(VMSnapshot).where(VMSnapshot.vm_id == vm.id))]
    job = ctx.db.exec(
        select(AsyncJob).where(
            col(AsyncJob.instance_uuid).in_(uuids),
            col(AsyncJob.state).in_(("queued", "running")),
        )
    ).first()
    if job is not None:
        raise InUse(f"VM {vm.name} has a job in progress ({job.command})")


@api(
    "createVMSnapshot",
    "Creates a snapshot of a virtual machine",
    "vmsnapshot",
    [
        Param("virtualmachineid", "uuid", required=True, description="the VM"),
        Param("name", description="the name"),
        Param("description", description="a description"),
        Param("snapshotmemory", "boolean", description="include the memory (running VMs)"),
        Param("quiescevm", "boolean", description="unused"),
    ],
    is_async=True,
)
def create_vm_snapshot(ctx: Ctx) -> Pending:
    """Check the VM and what its hypervisor can do, record the snapshot and queue it."""
    a = ctx.args
    vm = ctx.get(VirtualMachine, a.virtualmachineid, "virtualmachineid")
    ctx.require(vm, f"VM {vm.name}")
    if vm.state not in (VmState.RUNNING, VmState.STOPPED):
        raise InvalidParameter(f"VM {vm.name} is {vm.state}; it must be Running or Stopped")
    caps = _capabilities(ctx, vm)
    if Capability.VM_SNAPSHOT not in caps:
        raise Unsupported(f"VM snapshots are not supported by this hypervisor ({vm.hypervisor})")
    memory = bool(a.snapshotmemory)
    if memory and Capability.MEMORY_SNAPSHOT not in caps:
        raise Unsupported(
            f"Memory snapshots are not supported by this hypervisor ({vm.hypervisor}); use snapshotmemory=false"
        )
    if memory and vm.state != VmState.RUNNING:
        raise InvalidParameter(f"VM {vm.name} must be running for a memory snapshot")
    _busy(ctx, vm)
    vms = vmsnapshots.record(ctx, vm, a.name, a.description or "", memory)
    return Pending("VMSnapshot", vms.uuid)


@api(
    "listVMSnapshot",
    "Lists VM snapshots",
    "vmSnapshot",
    [
        Param("vmsnapshotid", "uuid", description="the VM snapshot"),
        Param("vmsnapshotids", "uuidlist", description="several"),
        Param("virtualmachineid", "uuid", description="snapshots of a VM"),
        Param("name", description="the name"),
        Param("state", description="the state"),
        Param("account", description="the account"),
        Param("domainid", "uuid", description="the domain"),
        Param("isrecursive", "boolean", description="subdomains"),
        Param("tags", "map", description="tags"),
    ],
    paged=True,
)
def list_vm_snapshots(ctx: Ctx) -> dict[str, Any]:
    """List the VM snapshots the caller may see."""
    a = ctx.args
    stmt = ctx.scope(select(VMSnapshot), VMSnapshot)
    if a.vmsnapshotid:
        stmt = stmt.where(VMSnapshot.uuid == a.vmsnapshotid)
    if a.vmsnapshotids:
        stmt = stmt.where(col(VMSnapshot.uuid).in_(a.vmsnapshotids))
    if a.virtualmachineid:
        stmt = stmt.where(VMSnapshot.vm_id == ctx.get(VirtualMachine, a.virtualmachineid, "virtualmachineid").id)
    if a.state:
        stmt = stmt.where(VMSnapshot.state == a.state)
    rows, count = ctx.page(stmt, VMSnapshot, resourcetype="VMSnapshot")
    return list_body("vmSnapshot", vmsnapshot_views(ctx, rows), count)


def _vms(ctx: Ctx) -> VMSnapshot:
    """The VM snapshot named by vmsnapshotid, which the caller may change."""
    vms = ctx.get(VMSnapshot, ctx.args.vmsnapshotid, "vmsnapshotid")
    ctx.require(vms, f"VM snapshot {vms.name}")
    return vms


@api(
    "revertToVMSnapshot",
    "Reverts a VM to a VM snapshot",
    "virtualmachine",
    [
        Param("vmsnapshotid", "uuid", required=True, description="the VM snapshot"),
    ],
    is_async=True,
)
def revert_vm_snapshot(ctx: Ctx) -> Pending:
    """Check the VM's state (stopped for disk snapshots, running for memory ones) and queue the revert."""
    vms = _vms(ctx)
    vm = ctx.by_id(VirtualMachine, vms.vm_id)
    assert vm is not None
    want = VmState.RUNNING if vms.memory else VmState.STOPPED
    if vm.state != want:
        raise InvalidParameter(
            f"VM {vm.name} must be {want} to revert to {vms.type} snapshot {vms.name} (it is {vm.state})"
        )
    _busy(ctx, vm)
    vmsnapshots.begin(ctx, vms, "revert")
    return Pending("VMSnapshot", vms.uuid, with_id=False)


@api(
    "deleteVMSnapshot",
    "Deletes a VM snapshot",
    "success",
    [
        Param("vmsnapshotid", "uuid", required=True, description="the VM snapshot"),
    ],
    is_async=True,
)
def delete_vm_snapshot(ctx: Ctx) -> Pending:
    """Queue the deletion."""
    vms = _vms(ctx)
    vm = ctx.by_id(VirtualMachine, vms.vm_id)
    assert vm is not None
    _busy(ctx, vm)
    vmsnapshots.begin(ctx, vms, "delete")
    return Pending("VMSnapshot", vms.uuid, with_id=False)
