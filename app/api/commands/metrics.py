"""Metrics lists: VMs and hosts with usage figures from the hypervisors' instance statistics."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlmodel import select
from virga.api.commands import vm as vm_commands
from virga.api.commands.hosts import list_hosts
from virga.api.commands.vm import _list as list_vms
from virga.api.registry import ADMINS, api, command_of
from virga.api.response import list_body
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.drivers.base import InstanceStats
from virga.models import Host, VirtualMachine

log = logging.getLogger(__name__)
STATS_TIMEOUT = 3.0
MB = 1024 * 1024
_VM_METRICS = (
    "cputotal cpuused memorytotal memorykbs memoryintfreekbs memorytargetkbs networkread networkwrite "
    "networkkbsread networkkbswrite diskread diskwrite diskkbsread diskkbswrite diskiopstotal diskioread "
    "diskiowrite ipaddress"
)
FIELDS["virtualmachinemetrics"] = FIELDS.get("virtualmachine", "") + " " + _VM_METRICS
FIELDS["hostmetrics"] = FIELDS.get("host", "") + (
    " instances cputotalghz cpuallocatedghz cpuusedghz memorytotalgb memoryallocatedgb memoryusedgb powerstate"
)


async def _stats(ctx: Ctx, host: Host, uuid: str) -> InstanceStats | None:
    """One guest's counters, or None when its host does not answer in time."""
    try:
        drv = await ctx.app.hosts.driver(host)
        return await asyncio.wait_for(drv.instance_stats(uuid), STATS_TIMEOUT)
    except Exception as exc:  # a silent host leaves the fields out; the list still answers
        log.info("no statistics for %s on %s: %s", uuid, host.name, exc)
        return None


async def stats_of(ctx: Ctx, vms: list[VirtualMachine]) -> dict[str, InstanceStats]:
    """Counters of the running VMs among some, by VM uuid, gathered concurrently."""
    running = [v for v in vms if v.state == "Running" and v.host_id]
    ctx.preload(Host, {v.host_id for v in running})
    pairs = [(v.uuid, ctx.by_id(Host, v.host_id)) for v in running]
    got = await asyncio.gather(*[_stats(ctx, h, u) for u, h in pairs if h is not None])
    return {u: s for (u, _), s in zip(pairs, got, strict=False) if s is not None}


def vm_metrics(vm: dict[str, Any], st: InstanceStats | None) -> dict[str, Any]:
    """CloudStack's metrics fields of a VM (usage only when its host answered)."""
    ghz = vm.get("cpunumber", 0) * vm.get("cpuspeed", 0) / 1000
    out = {
        "cputotal": f"{ghz:.2f} Ghz",
        "memorytotal": f"{vm.get('memory', 0):.2f} MB",
        "ipaddress": next((n.get("ipaddress") for n in vm.get("nic", []) if n.get("isdefault")), None),
    }
    if st is not None:
        out.update(
            {
                "cpuused": f"{st.cpu_percent:.2f}%",
                "memorykbs": st.memory_kb,
                "memoryintfreekbs": max(0, st.memory_kb - st.memory_used_kb),
                "memorytargetkbs": st.memory_kb,
                **_io_metrics("network", "read", st.net_rx_bytes),
                **_io_metrics("network", "write", st.net_tx_bytes),
                **_io_metrics("disk", "read", st.disk_read_bytes),
                **_io_metrics("disk", "write", st.disk_write_bytes),
                "diskioread": st.disk_read_ops,
                "diskiowrite": st.disk_write_ops,
                "diskiopstotal": None
                if st.disk_read_ops is None or st.disk_write_ops is None
                else st.disk_read_ops + st.disk_write_ops,
            }
        )
    return {k: v for k, v in out.items() if v is not None}


def _io_metrics(kind: str, way: str, total: int | None) -> dict[str, Any]:
    """The KB and MB fields of one byte counter; none when the hypervisor cannot tell it."""
    if total is None:
        return {}
    return {f"{kind}kbs{way}": total // 1024, f"{kind}{way}": f"{total / MB:.2f} MB"}


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
    rows = list(ctx.db.exec(select(VirtualMachine).where(VirtualMachine.uuid.in_(uuids)))) if uuids else []  # type: ignore[attr-defined]
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
    hosts = list(ctx.db.exec(select(Host).where(Host.uuid.in_([i["id"] for i in items])))) if items else []  # type: ignore[attr-defined]
    by_uuid = {h.uuid: h for h in hosts}
    vms = (
        list(
            ctx.db.exec(
                select(VirtualMachine).where(
                    VirtualMachine.host_id.in_([h.id for h in hosts]),  # type: ignore[union-attr]
                    VirtualMachine.state == "Running",
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
        out.append({**item, **_host_metrics(h, mine, stats)})
    return list_body("host", out, body.get("count", 0))


def _host_metrics(h: Host, vms: list[VirtualMachine], stats: dict[str, InstanceStats]) -> dict[str, Any]:
    """Allocation from the database; usage from the guests that answered."""
    total_mhz = h.cpunumber * h.cpuspeed
    out: dict[str, Any] = {
        "instances": len(vms),
        "cputotalghz": f"{total_mhz / 1000:.2f} Ghz",
        "cpuallocatedghz": f"{h.cpuallocated / 1000:.2f} Ghz",
        "memorytotalgb": f"{h.memorytotal / 2**30:.2f} GB",
        "memoryallocatedgb": f"{h.memoryallocated / 2**30:.2f} GB",
        "powerstate": "On" if h.state == "Up" else "Unknown",
    }
    answered = [stats[v.uuid] for v in vms if v.uuid in stats]
    if len(answered) == len(vms):
        used_mhz = sum(s.cpu_percent / 100 * v.cpunumber * v.cpuspeed for v, s in ((v, stats[v.uuid]) for v in vms))
        out.update(
            {
                "cpuusedghz": f"{used_mhz / 1000:.2f} Ghz",
                "cpuused": f"{(used_mhz / total_mhz * 100) if total_mhz else 0:.2f}%",
                "memoryusedgb": f"{sum(s.memory_used_kb for s in answered) / 2**20:.2f} GB",
            }
        )
    return out
