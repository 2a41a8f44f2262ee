"""VM snapshots: a whole VM's disks (and memory when asked) snapshotted, reverted and deleted by the host's driver."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select
from virga.drivers.base import InstanceNotFound, SnapshotInfo
from virga.errors import InvalidParameter
from virga.jobs.engine import JobRun, job_body
from virga.models import VirtualMachine, VMSnapshot, utcnow
from virga.services.events import record_event
from virga.services.states import transition
from virga.services.volumes import vm_host


def _event(s: Session, row: Any, kind: str, text: str, level: str = "INFO") -> None:
    """Record a VM snapshot event."""
    record_event(s, kind, text, account_id=row.account_id, domain_id=row.domain_id, resource=row, level=level)


def vmsnap_by_uuid(s: Session, uuid: str) -> VMSnapshot:
    """A VM snapshot by uuid."""
    return s.exec(select(VMSnapshot).where(VMSnapshot.uuid == uuid)).one()


def _vm_target(s: Session, vms: VMSnapshot) -> tuple[VirtualMachine, Any]:
    """The VM of a VM snapshot and the host whose driver handles it."""
    vm = s.get(VirtualMachine, vms.vm_id)
    assert vm is not None
    host = vm_host(s, vm)
    if host is None:
        raise InvalidParameter(f"VM {vm.name} has never been placed on a host")
    return vm, host


def vm_result(run: JobRun) -> dict[str, Any]:
    """The job result: the VM snapshot as its owner sees it now."""
    from virga.api.commands.vmsnapshots import vmsnapshot_view

    with run.ctx() as ctx:
        return {"vmsnapshot": vmsnapshot_view(ctx, vmsnap_by_uuid(ctx.db, run.instance_uuid))}


def _vm_failed(run: JobRun) -> None:
    """Undo of a VM snapshot: it goes away."""
    with run.db() as s:
        vms = vmsnap_by_uuid(s, run.instance_uuid)
        vms.state, vms.removed = "Error", utcnow()
        s.add(vms)
        s.commit()


@job_body("createVMSnapshot")
async def create_vm_snapshot(run: JobRun) -> dict[str, Any]:
    """Snapshot a whole VM (disks, and memory when asked) through the driver."""
    run.undo.push("drop vm snapshot", lambda: _vm_failed(run))
    with run.db() as s:
        vms = vmsnap_by_uuid(s, run.instance_uuid)
        vm, host = _vm_target(s, vms)
        transition(vms, "create")
        s.add(vms)
        s.commit()
    drv = await run.app.hosts.driver(host)
    info = await drv.snapshot_instance(vm.uuid, vms.uuid, vms.memory)
    run.undo.push("delete driver vm snapshot", lambda: drv.delete_instance_snapshot(vm.uuid, info))
    with run.db() as s:
        vms = vmsnap_by_uuid(s, run.instance_uuid)
        previous = s.exec(
            select(VMSnapshot).where(
                VMSnapshot.vm_id == vm.id,
                VMSnapshot.current == True,
                VMSnapshot.removed == None,
            )
        ).all()
        for p in previous:
            p.current = False
            vms.parent_id = p.id
            s.add(p)
        transition(vms, "created")
        vms.current = True
        _event(s, vms, "VMSNAPSHOT.CREATE", f"Created VM snapshot {vms.name} of VM {vm.name}")
        s.add(vms)
        s.commit()
    return vm_result(run)


@job_body("revertToVMSnapshot")
async def revert_vm_snapshot(run: JobRun) -> dict[str, Any]:
    """Roll a VM back to a VM snapshot."""
    from virga.api.views.vm import vm_view

    run.undo.push("ready again", lambda: _vm_state(run, "Ready"))
    with run.db() as s:
        vms = vmsnap_by_uuid(s, run.instance_uuid)
        vm, host = _vm_target(s, vms)
    drv = await run.app.hosts.driver(host)
    await drv.revert_instance_snapshot(vm.uuid, SnapshotInfo(name=vms.uuid, memory=vms.memory))
    with run.db() as s:
        vms = vmsnap_by_uuid(s, run.instance_uuid)
        for other in s.exec(select(VMSnapshot).where(VMSnapshot.vm_id == vms.vm_id, VMSnapshot.removed == None)):
            other.current = other.id == vms.id
            s.add(other)
        transition(vms, "reverted")
        _event(s, vms, "VMSNAPSHOT.REVERTTO", f"Reverted VM {vm.name} to VM snapshot {vms.name}")
        s.commit()
    with run.ctx() as ctx:
        return {
            "virtualmachine": vm_view(
                ctx, ctx.db.exec(select(VirtualMachine).where(VirtualMachine.uuid == vm.uuid)).one()
            )
        }


def _vm_state(run: JobRun, state: str) -> None:
    """Put a VM snapshot back into a state after a failed revert or delete."""
    with run.db() as s:
        vms = vmsnap_by_uuid(s, run.instance_uuid)
        vms.state = state
        s.add(vms)
        s.commit()


@job_body("deleteVMSnapshot")
async def delete_vm_snapshot(run: JobRun) -> dict[str, Any]:
    """Delete a VM snapshot on the hypervisor and forget it."""
    run.undo.push("ready again", lambda: _vm_state(run, "Ready"))
    with run.db() as s:
        vms = vmsnap_by_uuid(s, run.instance_uuid)
        vm, host = _vm_target(s, vms)
    drv = await run.app.hosts.driver(host)
    try:
        await drv.delete_instance_snapshot(vm.uuid, SnapshotInfo(name=vms.uuid, memory=vms.memory))
    except InstanceNotFound:
        pass
    with run.db() as s:
        vms = vmsnap_by_uuid(s, run.instance_uuid)
        transition(vms, "deleted")
        vms.removed, vms.current = utcnow(), False
        _event(s, vms, "VMSNAPSHOT.DELETE", f"Deleted VM snapshot {vms.name}")
        s.add(vms)
        s.commit()
    return {"success": True}
