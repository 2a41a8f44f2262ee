"""Migrating a VM to another host of its cluster (live when it runs): the request, then the job."""

from __future__ import annotations

from virga.context import Ctx
from virga.jobs.pending import Pending
from virga.models import Host, VirtualMachine
from virga.services.states import transition


def request_migrate(ctx: Ctx, vm: VirtualMachine, dst: Host) -> Pending:
    """Mark a running VM Migrating (a stopped one stays Stopped) and hand over the move to a checked host."""
    transition(vm, "migrate")
    ctx.db.add(vm)
    return Pending("VirtualMachine", vm.uuid, {"hostid": dst.uuid})
