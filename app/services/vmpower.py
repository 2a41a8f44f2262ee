"""A VM's power: start, stop and reboot (the request's state change, then the jobs and their reconciliation)."""

from __future__ import annotations

from sqlmodel import select
from virga.context import Ctx
from virga.drivers.base import InstanceNotFound, PowerState
from virga.errors import InvalidParameter
from virga.jobs.engine import JobRun, Ref, Restart, job_body, job_recover
from virga.jobs.pending import Pending
from virga.models import Host, ServiceOffering, VirtualMachine
from virga.services.capacity import place_vm, release_host
from virga.services.network import sync_router
from virga.services.specs import instance_spec
from virga.services.states import HostState, VmState, transition
from virga.services.vm import _event, _networks_of, _vm, guest_state, need_of


def _request(ctx: Ctx, vm: VirtualMachine, event: str) -> None:
    """Move a VM for a queued power job (431 when its state does not allow it)."""
    transition(vm, event)
    ctx.db.add(vm)


def request_start(ctx: Ctx, vm: VirtualMachine, host_id: int | None) -> Pending:
    """Mark a stopped VM Starting and hand over its start (on a chosen host when given)."""
    _request(ctx, vm, "start")
    return Pending("VirtualMachine", vm.uuid, {"hostid": host_id})


def request_stop(ctx: Ctx, vm: VirtualMachine, forced: bool) -> Pending:
    """Mark a VM Stopping and hand over its stop."""
    _request(ctx, vm, "stop")
    return Pending("VirtualMachine", vm.uuid, {"forced": forced})


def request_reboot(ctx: Ctx, vm: VirtualMachine) -> Pending:
    """Check that a VM may reboot (Running) and hand over the reboot."""
    _request(ctx, vm, "reboot")
    return Pending("VirtualMachine", vm.uuid)


async def _ensure_defined(run: JobRun, vm: VirtualMachine, host: Host) -> None:
    """Make sure the guest is defined on the chosen host (moving its definition when needed)."""
    app = run.app
    drv = await app.hosts.driver(host)
    try:
        await drv.get_instance(vm.uuid)
        return
    except InstanceNotFound:
        pass
    with run.db() as s:
        old = s.get(Host, vm.last_host_id) if vm.last_host_id else None
        spec = instance_spec(s, vm)
    if old is not None and old.id != host.id and old.state == HostState.UP:
        src = await app.hosts.driver(old)
        try:
            await src.migrate_instance(vm.uuid, drv, live=False)
            return
        except InstanceNotFound:
            pass
    await drv.create_instance(spec)


@job_body("startVirtualMachine", restart=Restart.RECONCILE)
async def start(run: JobRun) -> Ref:
    """Place (preferring the last host), reserve capacity and power on."""
    with run.db() as s:
        vm = _vm(s, run.instance_uuid)
        prefer = int(run.params["hostid"]) if run.params.get("hostid") else vm.last_host_id
        host = place_vm(s, vm, need_of(vm, s.get(ServiceOffering, vm.serviceoffering_id)), prefer=prefer)
        if run.params.get("hostid") and host.id != prefer:
            raise InvalidParameter(f"Host {run.params['hostid']} cannot take the VM now")  # rolls back the reservation
        vm.host_id, vm.pod_id = host.id, host.pod_id
        s.add(vm)
        s.commit()
    run.undo.push("unstart", lambda: _unstart(run))
    await _ensure_defined(run, vm, host)
    for net_id in _nets(run, vm):
        await sync_router(run.app, net_id)
    drv = await run.app.hosts.driver(host)
    await drv.start_instance(vm.uuid)
    with run.db() as s:
        vm = _vm(s, run.instance_uuid)
        transition(vm, "started")
        vm.last_host_id = vm.host_id
        _event(s, vm, "VM.START", f"Started VM {vm.name}")
        s.add(vm)
        s.commit()
    return Ref(VirtualMachine, run.instance_uuid)


def _nets(run: JobRun, vm: VirtualMachine) -> list[int]:
    """Network ids of a VM."""
    with run.db() as s:
        return _networks_of(s, vm.id or 0)


def _unstart(run: JobRun) -> None:
    """Undo of a failed start: release the reservation and go back to Stopped."""
    with run.db() as s:
        vm = _vm(s, run.instance_uuid)
        if vm.host_id:
            release_host(s, vm.host_id, vm)
        transition(vm, "start_failed")
        vm.host_id = None
        _event(s, vm, "VM.START", f"Failed to start VM {vm.name}", "ERROR")
        s.add(vm)
        s.commit()


@job_recover("startVirtualMachine")
async def recover_start(run: JobRun) -> None:
    """A start whose server died: keep the VM if it runs, else back to Stopped."""
    await _reconcile(run)


async def _reconcile(run: JobRun) -> None:
    """Set a VM's state from what its host reports after an interrupted job."""
    with run.db() as s:
        vm = s.exec(select(VirtualMachine).where(VirtualMachine.uuid == run.instance_uuid)).first()
        host = s.get(Host, vm.host_id) if vm and vm.host_id else None
    if vm is None or host is None:
        return
    try:
        state = await guest_state(run.app, host, vm.uuid)
    except Exception:
        state = None
    with run.db() as s:
        vm = _vm(s, run.instance_uuid)
        if state == PowerState.RUNNING:
            if vm.state != VmState.RUNNING:
                transition(vm, "seen_running")
        elif vm.state in (VmState.STARTING, VmState.STOPPING, VmState.MIGRATING, VmState.RUNNING):
            release_host(s, vm.host_id, vm)
            transition(vm, "seen_stopped")
            vm.host_id = None
        s.add(vm)
        s.commit()


@job_body("stopVirtualMachine", restart=Restart.RECONCILE)
async def stop(run: JobRun) -> Ref:
    """Power off and release the host's capacity."""
    with run.db() as s:
        vm = _vm(s, run.instance_uuid)
        host = s.get(Host, vm.host_id) if vm.host_id else None
    if host is not None:
        drv = await run.app.hosts.driver(host)
        try:
            await drv.stop_instance(vm.uuid, force=bool(run.params.get("forced")))
        except InstanceNotFound:
            pass
    with run.db() as s:
        vm = _vm(s, run.instance_uuid)
        if vm.host_id:
            release_host(s, vm.host_id, vm)
        transition(vm, "stopped")
        vm.last_host_id, vm.host_id = vm.host_id or vm.last_host_id, None
        _event(s, vm, "VM.STOP", f"Stopped VM {vm.name}")
        s.add(vm)
        s.commit()
    return Ref(VirtualMachine, run.instance_uuid)


job_recover("stopVirtualMachine")(recover_start)


@job_body("rebootVirtualMachine", restart=Restart.RECONCILE)
async def reboot(run: JobRun) -> Ref:
    """Reboot on the current host."""
    with run.db() as s:
        vm = _vm(s, run.instance_uuid)
        host = s.get(Host, vm.host_id) if vm.host_id else None
    if host is None:
        raise InvalidParameter(f"VM {vm.name} is not running on any host")
    await (await run.app.hosts.driver(host)).reboot_instance(vm.uuid)
    with run.db() as s:
        _event(s, _vm(s, run.instance_uuid), "VM.REBOOT", f"Rebooted VM {vm.name}")
        s.commit()
    return Ref(VirtualMachine, run.instance_uuid)


@job_recover("rebootVirtualMachine")
async def recover_reboot(run: JobRun) -> None:
    """A reboot whose server died: the VM takes the state its host reports (a guest left off is Stopped)."""
    await _reconcile(run)
