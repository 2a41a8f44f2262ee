"""A VM's configuration: its names, group, HA flag, userdata and details, and its service offering (scale)."""

from __future__ import annotations

from typing import Any

from virga.context import Ctx
from virga.models import ServiceOffering, VirtualMachine

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
