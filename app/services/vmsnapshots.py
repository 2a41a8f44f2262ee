"""VM snapshots: a whole VM's disks (and memory when asked) snapshotted, reverted and deleted by the host's driver."""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel import Session, select
from virga.context import Ctx
from virga.drivers.base import InstanceNotFound, SnapshotInfo
from virga.errors import InvalidParameter
from virga.jobs.engine import JobRun, Ref, Restart, job_body, job_recover
from virga.models import VirtualMachine, VMSnapshot, utcnow
from virga.services.events import record_event
from virga.services.states import VmSnapshotState, transition
from virga.services.volumes import vm_host

log = logging.getLogger(__name__)


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


# --- the synchronous halves (in the request's transaction) ------------------------


def record(ctx: Ctx, vm: VirtualMachine, name: str | None, description: str, memory: bool) -> VMSnapshot:
    """Record a VM snapshot in state Allocated (named <instance>_VS_<vm id>_<id> when no name is given)."""
    base = name or f"{vm.instancename or vm.name}_VS_{vm.id}"
    vms = VMSnapshot(
        name=base,
        displayname=base,
        description=description,
        vm_id=vm.id or 0,
        zone_id=vm.zone_id,
        type="DiskAndMemory" if memory else "Disk",
        memory=memory,
        account_id=vm.account_id,
        domain_id=vm.domain_id,
    )
    ctx.db.add(vms)
    ctx.db.flush()
    if not name:
        vms.name = vms.displayname = f"{base}_{vms.id}"
        ctx.db.add(vms)
    return vms


def begin(ctx: Ctx, vms: VMSnapshot, event: str) -> None:
    """Move a VM snapshot for a queued job (revert, delete) through its state machine."""
    transition(vms, event)
    ctx.db.add(vms)


# --- create ---------------------------------------------------------------------------


def _vm_failed(run: JobRun) -> None:
    """Undo of a VM snapshot: it goes away."""
    with run.db() as s:
        vms = vmsnap_by_uuid(s, run.instance_uuid)
        transition(vms, "failed")
        vms.removed = utcnow()
        s.add(vms)
        s.commit()


@job_body("createVMSnapshot", restart=Restart.RECONCILE)
async def create_vm_snapshot(run: JobRun) -> Ref:
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
    return Ref(VMSnapshot, run.instance_uuid)


@job_recover("createVMSnapshot")
async def recover_create(run: JobRun) -> None:
    """A VM snapshot job whose server died: delete what the driver may have made and drop the unfinished row."""
    with run.db() as s:
        vms = s.exec(select(VMSnapshot).where(VMSnapshot.uuid == run.instance_uuid)).first()
        if vms is None or vms.removed is not None or vms.state == VmSnapshotState.READY:
            return
        vm, host = _vm_target(s, vms)
    try:
        drv = await run.app.hosts.driver(host)
        await drv.delete_instance_snapshot(vm.uuid, SnapshotInfo(name=vms.uuid, memory=vms.memory))
    except InstanceNotFound:
        pass
    except Exception as exc:  # the row goes anyway: a leftover snapshot on the host is reported, not fatal
        log.warning("VM snapshot %s of %s may be left on host %s: %s", vms.uuid, vm.uuid, host.name, exc)
    _vm_failed(run)


# --- revert ---------------------------------------------------------------------------


def _revert_failed(run: JobRun) -> None:
    """Undo of a revert: the VM snapshot is Ready again."""
    with run.db() as s:
        vms = vmsnap_by_uuid(s, run.instance_uuid)
        if vms.state == VmSnapshotState.REVERTING:
            transition(vms, "revert_failed")
            s.add(vms)
            s.commit()


@job_body("revertToVMSnapshot", restart=Restart.RECONCILE)
async def revert_vm_snapshot(run: JobRun) -> Ref:
    """Roll a VM back to a VM snapshot."""
    run.undo.push("ready again", lambda: _revert_failed(run))
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
    return Ref(VirtualMachine, vm.uuid)


@job_recover("revertToVMSnapshot")
async def recover_revert(run: JobRun) -> None:
    """A revert whose server died: the snapshot is kept and Ready again (the VM's disks may or may not be reverted:
    the failed job says so, and reverting again is safe)."""
    _revert_failed(run)


# --- delete ---------------------------------------------------------------------------


def _delete_failed(run: JobRun) -> None:
    """Undo of a delete: the VM snapshot is Ready again."""
    with run.db() as s:
        vms = vmsnap_by_uuid(s, run.instance_uuid)
        if vms.state == VmSnapshotState.EXPUNGING:
            transition(vms, "delete_failed")
            s.add(vms)
            s.commit()


async def _delete(run: JobRun) -> None:
    """Delete a VM snapshot on the hypervisor (gone already is fine) and mark it Removed."""
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


@job_body("deleteVMSnapshot", restart=Restart.RECONCILE)
async def delete_vm_snapshot(run: JobRun) -> dict[str, Any]:
    """Delete a VM snapshot on the hypervisor and forget it."""
    run.undo.push("ready again", lambda: _delete_failed(run))
    await _delete(run)
    return {"success": True}


@job_recover("deleteVMSnapshot")
async def recover_delete(run: JobRun) -> None:
    """A delete whose server died: finish it (deleting again is safe), or make the snapshot Ready when it cannot."""
    with run.db() as s:
        vms = s.exec(select(VMSnapshot).where(VMSnapshot.uuid == run.instance_uuid)).first()
        if vms is None or vms.state != VmSnapshotState.EXPUNGING:
            return
    try:
        await _delete(run)
    except Exception as exc:
        log.warning("finishing the delete of VM snapshot %s failed: %s", run.instance_uuid, exc)
        _delete_failed(run)
