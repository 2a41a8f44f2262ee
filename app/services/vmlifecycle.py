"""The end of a VM's life: destroy (recoverable), recover, expunge, and the purge of every trace of it."""

from __future__ import annotations

from virga.context import Ctx
from virga.models import VirtualMachine
from virga.services.states import transition


def recover(ctx: Ctx, vm: VirtualMachine) -> VirtualMachine:
    """Bring a Destroyed VM back to Stopped."""
    transition(vm, "recover")
    ctx.db.add(vm)
    return vm
