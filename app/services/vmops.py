"""VM operations inside jobs: start, stop, reboot, destroy, expunge, migrate, scale."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from virga.drivers.base import InstanceNotFound
from virga.errors import InsufficientCapacity, InvalidParameter
from virga.jobs.engine import JobRun, job_body, job_recover
from virga.models import Host, ServiceOffering, VirtualMachine
from virga.services.capacity import place_vm, release_host
from virga.services.specs import instance_spec
from virga.services.states import transition
from virga.services.vm import _event, _networks_of, _vm, need_of, purge, result, sync_router


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
    if old is not None and old.id != host.id and old.state == "Up":
        src = await app.hosts.driver(old)
        try:
            await src.migrate_instance(vm.uuid, drv, live=False)
            return
        except InstanceNotFound:
            pass
    await drv.create_instance(spec)


@job_body("startVirtualMachine")
async def start(run: JobRun) -> dict[str, Any]:
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
    return result(run)


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
        vm.state, vm.host_id = "Stopped", None
        _event(s, vm, "VM.START", f"Failed to start VM {vm.name}", "ERROR")
        s.add(vm)
        s.commit()


@job_recover("startVirtualMachine")
async def recover_start(run: JobRun) -> None:
    """A start whose server died: keep the VM if it runs, else back to Stopped."""
    await _reconcile(run)


async def _reconcile(run: JobRun) -> None:
    """Set a VM's state from what its host reports after an interrupted job."""
    from virga.drivers.base import PowerState
    from virga.services.vm import guest_state

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
            vm.state = "Running"
        elif vm.state in ("Starting", "Stopping", "Migrating", "Running"):
            release_host(s, vm.host_id, vm)
            vm.state, vm.host_id = "Stopped", None
        s.add(vm)
        s.commit()


@job_body("stopVirtualMachine")
async def stop(run: JobRun) -> dict[str, Any]:
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
    return result(run)


job_recover("stopVirtualMachine")(recover_start)


@job_body("rebootVirtualMachine")
async def reboot(run: JobRun) -> dict[str, Any]:
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
    return result(run)


@job_body("destroyVirtualMachine")
async def destroy(run: JobRun) -> dict[str, Any]:
    """Power off, mark Destroyed (recoverable) or expunge at once."""
    with run.db() as s:
        vm = _vm(s, run.instance_uuid)
        host = s.get(Host, vm.host_id) if vm.host_id else None
        was_running = vm.state in ("Running", "Stopping", "Starting")
    if host is not None and was_running:
        try:
            await (await run.app.hosts.driver(host)).stop_instance(vm.uuid, force=True)
        except InstanceNotFound:
            pass
    with run.db() as s:
        vm = _vm(s, run.instance_uuid)
        if vm.host_id and was_running:
            release_host(s, vm.host_id, vm)
        vm.last_host_id, vm.host_id = vm.host_id or vm.last_host_id, None
        vm.state = "Destroyed"
        _event(s, vm, "VM.DESTROY", f"Destroyed VM {vm.name}")
        s.add(vm)
        s.commit()
        view = result(run)
    if run.params.get("volumeids"):
        from virga.services.voldelete import delete_with_vm

        await delete_with_vm(run.app, run.params["volumeids"])
    if run.params.get("expunge"):
        await _expunge(run)
    return view


async def _expunge(run: JobRun) -> None:
    """Remove a destroyed VM everywhere and update its networks' routers."""
    with run.db() as s:
        vm = _vm(s, run.instance_uuid)
        nets = _networks_of(s, vm.id or 0)
        vm.state = "Expunging"
        s.add(vm)
        _event(s, vm, "VM.EXPUNGE", f"Expunged VM {vm.name}")
        s.commit()
    await purge(run.app, vm.id or 0)
    for net_id in nets:
        await sync_router(run.app, net_id)


@job_body("expungeVirtualMachine")
async def expunge(run: JobRun) -> dict[str, Any]:
    """Expunge a destroyed VM."""
    await _expunge(run)
    return {"success": True}


@job_recover("destroyVirtualMachine")
async def recover_destroy(run: JobRun) -> None:
    """A destroy whose server died: finish it (destroying is safe to repeat)."""
    with run.db() as s:
        vm = s.exec(select(VirtualMachine).where(VirtualMachine.uuid == run.instance_uuid)).first()
        if vm is None or vm.removed:
            return
        vm_id = vm.id or 0
    if run.params.get("expunge"):
        await purge(run.app, vm_id)


job_recover("expungeVirtualMachine")(recover_destroy)


@job_body("migrateVirtualMachine")
async def migrate(run: JobRun) -> dict[str, Any]:
    """Move a VM to another host of its cluster (live when running)."""
    with run.db() as s:
        vm = _vm(s, run.instance_uuid)
        src = s.get(Host, vm.host_id or vm.last_host_id or 0)
        dst = s.exec(select(Host).where(Host.uuid == run.params["hostid"])).one()
        running = vm.state == "Migrating"
        if running:
            try:
                place_vm(s, vm, need_of(vm, s.get(ServiceOffering, vm.serviceoffering_id)), only=dst)
            except InsufficientCapacity:
                raise InvalidParameter(f"Host {dst.name} does not have room for VM {vm.name}") from None
            s.commit()
    if running:
        run.undo.push("release target", lambda: _release(run, dst.id or 0, vm))
    assert src is not None
    await (await run.app.hosts.driver(src)).migrate_instance(vm.uuid, await run.app.hosts.driver(dst), live=running)
    with run.db() as s:
        vm = _vm(s, run.instance_uuid)
        if running:
            release_host(s, src.id, vm)
            vm.host_id, vm.state = dst.id, "Running"
        vm.last_host_id, vm.pod_id = dst.id, dst.pod_id
        _event(s, vm, "VM.MIGRATE", f"Migrated VM {vm.name} from {src.name} to {dst.name}")
        s.add(vm)
        s.commit()
    return result(run)


def _release(run: JobRun, host_id: int, vm: VirtualMachine) -> None:
    """Undo of a failed live migration: free the target's reservation and resume Running."""
    with run.db() as s:
        release_host(s, host_id, vm)
        row = _vm(s, run.instance_uuid)
        row.state = "Running"
        s.add(row)
        s.commit()


job_recover("migrateVirtualMachine")(recover_start)


@job_body("scaleVirtualMachine")
async def scale(run: JobRun) -> dict[str, Any]:
    """Apply a new offering's CPU and memory to a stopped VM (and its hypervisor definition)."""
    with run.db() as s:
        vm = _vm(s, run.instance_uuid)
        host = s.get(Host, vm.last_host_id) if vm.last_host_id else None
    if host is not None and host.state == "Up":
        drv = await run.app.hosts.driver(host)
        try:
            await drv.scale_instance(vm.uuid, run.params["cpunumber"], run.params["memory"])
        except InstanceNotFound:
            pass
    with run.db() as s:
        vm = _vm(s, run.instance_uuid)
        off = s.exec(select(ServiceOffering).where(ServiceOffering.uuid == run.params["serviceofferingid"])).one()
        vm.serviceoffering_id = off.id or 0
        vm.cpunumber, vm.cpuspeed, vm.memory = run.params["cpunumber"], run.params["cpuspeed"], run.params["memory"]
        _event(s, vm, "VM.UPGRADE", f"Scaled VM {vm.name} to {off.name}")
        s.add(vm)
        s.commit()
    return result(run)
