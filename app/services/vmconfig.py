"""A VM's configuration: its names, group, HA flag, userdata and details, and its service offering (scale)."""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel import select
from virga.context import Ctx
from virga.drivers.base import InstanceNotFound
from virga.jobs.engine import JobRun, Ref, Restart, job_body, job_recover
from virga.models import Host, ServiceOffering, VirtualMachine
from virga.services.states import HostState
from virga.services.vm import _event, _vm

log = logging.getLogger(__name__)
# the updateVirtualMachine fields copied as they are given
PLAIN = ("displayname", "group", "haenable", "displayvm")


def update(ctx: Ctx, vm: VirtualMachine, changes: dict[str, Any], details: dict[str, Any] | None) -> VirtualMachine:
    """Apply validated changes (name, PLAIN fields, userdata) to a VM and merge its details."""
    for key, value in changes.items():
        setattr(vm, key, value)
    if details:
        vm.details = {**(vm.details or {}), **details}
    ctx.db.add(vm)
    return vm


def change_offering(ctx: Ctx, vm: VirtualMachine, off: ServiceOffering, size: dict[str, Any]) -> VirtualMachine:
    """Give a stopped VM another offering at once (its hypervisor definition follows at next start)."""
    vm.serviceoffering_id = off.id or 0
    vm.cpunumber, vm.cpuspeed, vm.memory = size["cpunumber"], size["cpuspeed"], size["memory"]
    ctx.db.add(vm)
    return vm


async def _define(run: JobRun, cpus: int, memory: int) -> None:
    """Give the VM's hypervisor definition (on its last host, when Up and it has one) a CPU count and memory."""
    with run.db() as s:
        vm = _vm(s, run.instance_uuid)
        host = s.get(Host, vm.last_host_id) if vm.last_host_id else None
    if host is not None and host.state == HostState.UP:
        drv = await run.app.hosts.driver(host)
        try:
            await drv.scale_instance(vm.uuid, cpus, memory)
        except InstanceNotFound:
            pass


@job_body("scaleVirtualMachine", restart=Restart.RECONCILE)
async def scale(run: JobRun) -> Ref:
    """Apply a new offering's CPU and memory to a stopped VM (and its hypervisor definition)."""
    await _define(run, run.params["cpunumber"], run.params["memory"])
    with run.db() as s:
        vm = _vm(s, run.instance_uuid)
        off = s.exec(select(ServiceOffering).where(ServiceOffering.uuid == run.params["serviceofferingid"])).one()
        vm.serviceoffering_id = off.id or 0
        vm.cpunumber, vm.cpuspeed, vm.memory = run.params["cpunumber"], run.params["cpuspeed"], run.params["memory"]
        _event(s, vm, "VM.UPGRADE", f"Scaled VM {vm.name} to {off.name}")
        s.add(vm)
        s.commit()
    return Ref(VirtualMachine, run.instance_uuid)


@job_recover("scaleVirtualMachine")
async def recover_scale(run: JobRun) -> None:
    """A scale whose server died: the hypervisor definition gets the CPU and memory the database still records."""
    with run.db() as s:
        vm = _vm(s, run.instance_uuid)
        cpus, memory = vm.cpunumber, vm.memory
    try:
        await _define(run, cpus, memory)
    except Exception as exc:  # the next start defines the guest from the database anyway when it is missing
        log.warning(
            "VM %s: putting its definition back to %d CPUs, %d MB failed: %s", run.instance_uuid, cpus, memory, exc
        )
