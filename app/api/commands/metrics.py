"""Metrics lists: VMs and hosts with usage figures from the hypervisors' instance statistics."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from virga.api.commands import vm as vm_commands
from virga.api.commands.hosts import list_hosts
from virga.api.commands.vm import _list as list_vms
from virga.api.registry import ADMINS, api, command_of
from virga.api.response import list_body
from virga.api.views.metrics import host_metrics, vm_metrics
from virga.context import Ctx
from virga.models import Host, VirtualMachine
from virga.services.metrics import stats_of
from virga.services.states import VmState


@api(
    "listVirtualMachinesMetrics",
    "Lists virtual machines with usage metrics",
    "virtualmachinemetrics",
    command_of(vm_commands.list_vms).params,
)
async def list_vm_metrics(ctx: Ctx) -> dict[str, Any]:
    """listVirtualMachines plus CPU, memory, network and disk figures of the running VMs."""
    items, count = list_vms(ctx)
    uuids = [i["id"] for i in items]
    rows = list(ctx.db.exec(select(VirtualMachine).where(col(VirtualMachine.uuid).in_(uuids)))) if uuids else []
    stats = await stats_of(ctx, rows)
    out = [{**i, **vm_metrics(i, stats.get(i["id"]))} for i in items]
    return list_body("virtualmachine", out, count)


@api(
    "listHostsMetrics",
    "Lists hosts with allocation and usage metrics",
    "hostmetrics",
    command_of(list_hosts).params,
    roles=ADMINS,
)
async def list_host_metrics(ctx: Ctx) -> dict[str, Any]:
    """listHosts plus allocated and used CPU and memory (usage summed from the running guests)."""
    body = list_hosts(ctx)
    items = body.get("host", [])
    hosts = list(ctx.db.exec(select(Host).where(col(Host.uuid).in_([i["id"] for i in items])))) if items else []
    by_uuid = {h.uuid: h for h in hosts}
    vms = (
        list(
            ctx.db.exec(
                select(VirtualMachine).where(
                    col(VirtualMachine.host_id).in_([h.id for h in hosts]),
                    VirtualMachine.state == VmState.RUNNING,
                )
            )
        )
        if hosts
        else []
    )
    stats = await stats_of(ctx, vms)
    out = []
    for item in items:
        h = by_uuid[item["id"]]
        mine = [v for v in vms if v.host_id == h.id]
        out.append({**item, **host_metrics(h, mine, stats)})
    return list_body("host", out, body.get("count", 0))
