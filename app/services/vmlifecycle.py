"""The end of a VM's life: destroy (recoverable), recover, expunge, and the purge of every trace of it."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, select
from virga.context import Ctx
from virga.drivers.base import InstanceNotFound
from virga.jobs.engine import JobRun, Ref, Restart, job_body, job_recover
from virga.models import (
    Host,
    LoadBalancerMember,
    Nic,
    PortForwardingRule,
    PublicIpAddress,
    VirtualMachine,
    Volume,
    utcnow,
)
from virga.services.capacity import release_host, release_pool
from virga.services.network import sync_router
from virga.services.specs import volume_spec
from virga.services.states import VmState, VolumeState, transition
from virga.services.vm import _event, _networks_of, _vm

if TYPE_CHECKING:
    from virga.core import VirgaApp

log = logging.getLogger(__name__)
HOLDS_HOST = (VmState.STARTING, VmState.RUNNING, VmState.STOPPING, VmState.MIGRATING)


def recover(ctx: Ctx, vm: VirtualMachine) -> VirtualMachine:
    """Bring a Destroyed VM back to Stopped."""
    transition(vm, "recover")
    ctx.db.add(vm)
    return vm


async def purge(app: VirgaApp, vm_id: int, *, on_driver: bool = True) -> None:
    """Remove every trace of a VM: guest, disks, NICs, rules, capacity and the row itself."""
    with app.db.session() as s:
        vm = s.get(VirtualMachine, vm_id)
        if vm is None or vm.removed is not None:
            return
        host = s.get(Host, vm.host_id or vm.last_host_id) if (vm.host_id or vm.last_host_id) else None
        vols = [
            (v, volume_spec(s, v)) for v in s.exec(select(Volume).where(Volume.vm_id == vm.id, Volume.removed == None))
        ]
    if on_driver and host is not None:
        await _driver_cleanup(app, host, vm.uuid, [spec for v, spec in vols if v.path and v.type == "ROOT"])
    with app.db.session() as s:
        vm = s.get(VirtualMachine, vm_id)
        assert vm is not None
        _release_rows(s, vm)
        s.commit()


async def _driver_cleanup(app: VirgaApp, host: Host, uuid: str, vols: list[Any]) -> None:
    """Destroy the guest and delete its disks on the host, ignoring what is already gone."""
    try:
        drv = await app.hosts.driver(host)
        try:
            await drv.destroy_instance(uuid)
        except InstanceNotFound:
            pass
        for spec in vols:
            await drv.delete_volume(spec)
    except Exception as exc:
        log.warning("cleanup of %s on host %s incomplete: %s", uuid, host.name, exc)


def _release_rows(s: Session, vm: VirtualMachine) -> None:
    """Free capacity, NICs, ROOT volume, rules and NAT of a VM and mark it removed."""
    now = utcnow()
    if vm.host_id and vm.state in HOLDS_HOST:
        release_host(s, vm.host_id, vm)
    for vol in s.exec(select(Volume).where(Volume.vm_id == vm.id, Volume.removed == None)):
        if vol.type == "ROOT" or vol.state == VolumeState.CREATING:
            release_pool(s, vol.pool_id, vol.size)
            transition(vol, "purge")
            vol.removed = now
        else:
            vol.vm_id, vol.deviceid = None, None
        s.add(vol)
    for nic in s.exec(select(Nic).where(Nic.vm_id == vm.id, Nic.removed == None)):
        nic.removed = now
        s.add(nic)
    for rule in s.exec(
        select(PortForwardingRule).where(PortForwardingRule.vm_id == vm.id, PortForwardingRule.removed == None)
    ):
        transition(rule, "retire")
        rule.removed = now
        s.add(rule)
    for member in s.exec(
        select(LoadBalancerMember).where(LoadBalancerMember.vm_id == vm.id, LoadBalancerMember.removed == None)
    ):
        member.removed = now
        s.add(member)
    for ip in s.exec(select(PublicIpAddress).where(PublicIpAddress.vm_id == vm.id)):
        ip.vm_id, ip.vm_ip, ip.isstaticnat = None, None, False
        s.add(ip)
    transition(vm, "purged")
    vm.removed, vm.host_id = now, None
    s.add(vm)


@job_body("destroyVirtualMachine", restart=Restart.RECONCILE)
async def destroy(run: JobRun) -> dict[str, Any]:
    """Power off, mark Destroyed (recoverable) or expunge at once; the result is the VM as it was Destroyed."""
    with run.db() as s:
        vm = _vm(s, run.instance_uuid)
        host = s.get(Host, vm.host_id) if vm.host_id else None
        was_running = vm.state in (VmState.RUNNING, VmState.STOPPING, VmState.STARTING)
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
        transition(vm, "destroyed")
        _event(s, vm, "VM.DESTROY", f"Destroyed VM {vm.name}")
        s.add(vm)
        s.commit()
        view = run.app.jobs.rendered(s, run.user_id, [Ref(VirtualMachine, run.instance_uuid)])[0]  # before expunge
    if run.params.get("volumeids"):
        from virga.services.voldelete import delete_with_vm

        await delete_with_vm(run.app, run.params["volumeids"])
    if run.params.get("expunge"):
        await _expunge(run)
    return view


async def _expunge(run: JobRun) -> None:
    """Remove a destroyed VM everywhere and update its networks' routers (an Expunging VM: finish it)."""
    with run.db() as s:
        vm = _vm(s, run.instance_uuid)
        nets = _networks_of(s, vm.id or 0)
        if vm.state != VmState.EXPUNGING:
            transition(vm, "expunge")
            s.add(vm)
            _event(s, vm, "VM.EXPUNGE", f"Expunged VM {vm.name}")
            s.commit()
    await purge(run.app, vm.id or 0)
    for net_id in nets:
        await sync_router(run.app, net_id)


@job_body("expungeVirtualMachine", restart=Restart.RECONCILE)
async def expunge(run: JobRun) -> dict[str, Any]:
    """Expunge a destroyed VM."""
    await _expunge(run)
    return {"success": True}


@job_recover("destroyVirtualMachine")
async def recover_destroy(run: JobRun) -> None:
    """A destroy or expunge whose server died: finish it (each step is safe to repeat)."""
    with run.db() as s:
        vm = s.exec(select(VirtualMachine).where(VirtualMachine.uuid == run.instance_uuid)).first()
        if vm is None or vm.removed:
            return
        state = vm.state
    if run.command == "destroyVirtualMachine" and state not in (VmState.DESTROYED, VmState.EXPUNGING):
        await destroy(run)  # the guest stopped, the host released, Destroyed; then expunged when asked
    elif run.command == "expungeVirtualMachine" or run.params.get("expunge"):
        await _expunge(run)


job_recover("expungeVirtualMachine")(recover_destroy)
