"""A VM's power: start, stop and reboot (the request's state change, then the jobs)."""

from __future__ import annotations

from virga.context import Ctx
from virga.jobs.pending import Pending
from virga.models import VirtualMachine
from virga.services.states import transition


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
