"""VM snapshot commands: create (disk, or disk and memory), list, revert and delete."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from virga.api.dispatch import Pending
from virga.api.registry import Param, api
from virga.api.response import clean, list_body
from virga.api.views.common import owner, preload_owners, ref, tags_of
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.drivers.base import Capability, DriverError
from virga.drivers.registry import driver_class
from virga.errors import InUse, InvalidParameter, Unsupported
from virga.models import AsyncJob, Host, VirtualMachine, VMSnapshot, Zone
from virga.services import vmsnapshots as _bodies  # noqa: F401  (registers the job bodies)
from virga.services.states import transition

FIELDS["vmsnapshot"] = (
    "id name displayname description state type current parent parentName created virtualmachineid "
    "virtualmachinename zoneid zonename hypervisor tags account domainid domain domainpath"
)


def vmsnapshot_view(ctx: Ctx, v: VMSnapshot) -> dict[str, Any]:
    """A vmsnapshot response object."""
    vm = ctx.by_id(VirtualMachine, v.vm_id)
    parent = ctx.by_id(VMSnapshot, v.parent_id)
    return clean(
        {
            "id": v.uuid,
            "name": v.name,
            "displayname": v.displayname or v.name,
            "description": v.description or None,
            "state": v.state,
            "type": v.type,
            "current": v.current,
            "created": v.created,
            "parent": parent.uuid if parent else None,
            "parentName": parent.name if parent else None,
            "virtualmachineid": vm.uuid if vm else None,
            "virtualmachinename": vm.name if vm else None,
            "hypervisor": vm.hypervisor if vm else None,
            **ref(ctx, Zone, v.zone_id, "zone"),
            **owner(ctx, v),
            "tags": tags_of(ctx, "VMSnapshot", [v]).get(v.id or 0, []),
        }
    )


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
            AsyncJob.instance_uuid.in_(uuids),  # type: ignore[attr-defined]
            AsyncJob.state.in_(("queued", "running")),
        )
    ).first()  # type: ignore[attr-defined]
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
    if vm.state not in ("Running", "Stopped"):
        raise InvalidParameter(f"VM {vm.name} is {vm.state}; it must be Running or Stopped")
    caps = _capabilities(ctx, vm)
    if Capability.VM_SNAPSHOT not in caps:
        raise Unsupported(f"VM snapshots are not supported by this hypervisor ({vm.hypervisor})")
    memory = bool(a.snapshotmemory)
    if memory and Capability.MEMORY_SNAPSHOT not in caps:
        raise Unsupported(
            f"Memory snapshots are not supported by this hypervisor ({vm.hypervisor}); use snapshotmemory=false"
        )
    if memory and vm.state != "Running":
        raise InvalidParameter(f"VM {vm.name} must be running for a memory snapshot")
    _busy(ctx, vm)
    name = a.name or f"{vm.instancename or vm.name}_VS_{vm.id}"
    vms = VMSnapshot(
        name=name,
        displayname=name,
        description=a.description or "",
        vm_id=vm.id or 0,
        zone_id=vm.zone_id,
        type="DiskAndMemory" if memory else "Disk",
        memory=memory,
        account_id=vm.account_id,
        domain_id=vm.domain_id,
    )
    ctx.db.add(vms)
    ctx.db.flush()
    if not a.name:
        vms.name = vms.displayname = f"{name}_{vms.id}"
        ctx.db.add(vms)
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
        stmt = stmt.where(VMSnapshot.uuid.in_(a.vmsnapshotids))  # type: ignore[attr-defined]
    if a.virtualmachineid:
        stmt = stmt.where(VMSnapshot.vm_id == ctx.get(VirtualMachine, a.virtualmachineid, "virtualmachineid").id)
    if a.state:
        stmt = stmt.where(VMSnapshot.state == a.state)
    rows, count = ctx.page(stmt, VMSnapshot, resourcetype="VMSnapshot")
    preload_owners(ctx, rows)
    ctx.preload(VirtualMachine, {r.vm_id for r in rows})
    return list_body("vmSnapshot", [vmsnapshot_view(ctx, r) for r in rows], count)


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
    want = "Running" if vms.memory else "Stopped"
    if vm.state != want:
        raise InvalidParameter(
            f"VM {vm.name} must be {want} to revert to {vms.type} snapshot {vms.name} (it is {vm.state})"
        )
    _busy(ctx, vm)
    transition(vms, "revert")
    ctx.db.add(vms)
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
    transition(vms, "delete")
    ctx.db.add(vms)
    return Pending("VMSnapshot", vms.uuid, with_id=False)
