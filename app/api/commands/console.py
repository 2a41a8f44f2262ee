"""Console commands: a one-time endpoint to a running VM's serial console (the websocket is virga.api.console)."""

from __future__ import annotations

from typing import Any

from virga.api.console import PATH, TOKEN_TTL, console_capable, issue
from virga.api.registry import Param, api
from virga.api.views.console import endpoint_view
from virga.context import Ctx
from virga.errors import InvalidParameter
from virga.models import Host, VirtualMachine
from virga.services.states import VmState


@api(
    "createConsoleEndpoint",
    "Creates a one-time endpoint to a running VM's serial console",
    "consoleendpoint",
    [
        Param("virtualmachineid", "uuid", required=True, description="the ID of the virtual machine"),
    ],
)
async def create_console_endpoint(ctx: Ctx) -> dict[str, Any]:
    """Check the caller may use the VM and its host has a console; answer the websocket to open."""
    vm = ctx.get(VirtualMachine, ctx.args.virtualmachineid, "virtualmachineid")
    ctx.require(vm, f"VM {vm.name}")
    if vm.state != VmState.RUNNING or vm.host_id is None:
        raise InvalidParameter(f"VM {vm.name} is {vm.state}: its console is available only while it runs")
    host = ctx.db.get(Host, vm.host_id)
    if host is None or not console_capable(host.hypervisor):
        hv = host.hypervisor if host is not None else "unknown"
        raise InvalidParameter(f"Serial consoles are not supported by the {hv} hypervisor (VM {vm.name})")
    token, _ = issue(vm)
    return {"consoleendpoint": endpoint_view(vm, token, PATH, TOKEN_TTL)}
