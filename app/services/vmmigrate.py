"""Migrating a VM to another host of its cluster (live when it runs): the request, then the job."""

from __future__ import annotations

from sqlmodel import select
from virga.context import Ctx
from virga.drivers.base import PowerState
from virga.errors import InsufficientCapacity, InvalidParameter
from virga.jobs.engine import JobRun, Ref, Restart, job_body, job_recover
from virga.jobs.pending import Pending
from virga.models import AsyncJob, Host, ServiceOffering, VirtualMachine
from virga.services.capacity import place_vm, release_host
from virga.services.states import VmState, transition
from virga.services.vm import _event, _vm, guest_state, need_of

RESERVED = 10  # the job's progress once the target host's reservation is committed


def request_migrate(ctx: Ctx, vm: VirtualMachine, dst: Host) -> Pending:
    """Mark a running VM Migrating (a stopped one stays Stopped) and hand over the move to a checked host."""
    transition(vm, "migrate")
    ctx.db.add(vm)
    return Pending("VirtualMachine", vm.uuid, {"hostid": dst.uuid})


@job_body("migrateVirtualMachine", restart=Restart.RECONCILE)
async def migrate(run: JobRun) -> Ref:
    """Move a VM to another host of its cluster (live when running)."""
    with run.db() as s:
        vm = _vm(s, run.instance_uuid)
        src = s.get(Host, vm.host_id or vm.last_host_id or 0)
        dst = s.exec(select(Host).where(Host.uuid == run.params["hostid"])).one()
        running = vm.state == VmState.MIGRATING
        if running:
            try:
                place_vm(s, vm, need_of(vm, s.get(ServiceOffering, vm.serviceoffering_id)), only=dst)
            except InsufficientCapacity:
                raise InvalidParameter(f"Host {dst.name} does not have room for VM {vm.name}") from None
            run.progress(RESERVED, s)  # committed with the reservation: the recover step knows it was made
            s.commit()
    if running:
        run.undo.push("release target", lambda: _release(run, dst.id or 0, vm))
    assert src is not None
    await (await run.app.hosts.driver(src)).migrate_instance(vm.uuid, await run.app.hosts.driver(dst), live=running)
    with run.db() as s:
        vm = _vm(s, run.instance_uuid)
        if running:
            release_host(s, src.id, vm)
            transition(vm, "migrated")
            vm.host_id = dst.id
        vm.last_host_id, vm.pod_id = dst.id, dst.pod_id
        _event(s, vm, "VM.MIGRATE", f"Migrated VM {vm.name} from {src.name} to {dst.name}")
        s.add(vm)
        s.commit()
    return Ref(VirtualMachine, run.instance_uuid)


def _release(run: JobRun, host_id: int, vm: VirtualMachine) -> None:
    """Undo of a failed live migration: free the target's reservation and resume Running."""
    with run.db() as s:
        release_host(s, host_id, vm)
        row = _vm(s, run.instance_uuid)
        transition(row, "migrate_failed")
        s.add(row)
        s.commit()


async def _power_on(run: JobRun, host: Host | None, uuid: str) -> PowerState | None:
    """A guest's power state on a host (None when the host does not have it or does not answer)."""
    if host is None:
        return None
    try:
        return await guest_state(run.app, host, uuid)
    except Exception:
        return None


@job_recover("migrateVirtualMachine")
async def recover_migrate(run: JobRun) -> None:
    """A live migration whose server died: the VM is where its guest runs, and only that host stays reserved."""
    with run.db() as s:
        vm = s.exec(select(VirtualMachine).where(VirtualMachine.uuid == run.instance_uuid)).first()
        if vm is None or vm.state != VmState.MIGRATING:
            return  # a cold migration changes nothing the database does not say until its last transaction
        src = s.get(Host, vm.host_id) if vm.host_id else None
        dst = s.exec(select(Host).where(Host.uuid == run.params["hostid"])).first()
    on_dst = await _power_on(run, dst, vm.uuid)
    on_src = None if on_dst == PowerState.RUNNING else await _power_on(run, src, vm.uuid)
    with run.db() as s:
        vm = _vm(s, run.instance_uuid)
        job = s.get(AsyncJob, run.job_id)
        reserved = job is not None and (job.procstatus or 0) >= RESERVED
        if on_dst == PowerState.RUNNING and dst is not None:
            if src is not None:
                release_host(s, src.id, vm)
            transition(vm, "migrated")
            vm.host_id, vm.last_host_id, vm.pod_id = dst.id, dst.id, dst.pod_id
        else:
            if reserved and dst is not None:
                release_host(s, dst.id, vm)
            if on_src == PowerState.RUNNING:
                transition(vm, "migrate_failed")
            else:
                release_host(s, vm.host_id, vm)
                transition(vm, "seen_stopped")
                vm.host_id = None
        s.add(vm)
        s.commit()
