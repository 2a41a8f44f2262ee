"""Usage figures of running guests, read from their hosts' drivers (instance statistics)."""

from __future__ import annotations

import asyncio
import logging

from virga.context import Ctx
from virga.drivers.base import InstanceStats
from virga.models import Host, VirtualMachine
from virga.services.states import VmState

log = logging.getLogger(__name__)
STATS_TIMEOUT = 3.0


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
    running = [v for v in vms if v.state == VmState.RUNNING and v.host_id]
    ctx.preload(Host, {v.host_id for v in running})
    pairs = [(v.uuid, ctx.by_id(Host, v.host_id)) for v in running]
    got = await asyncio.gather(*[_stats(ctx, h, u) for u, h in pairs if h is not None])
    return {u: s for (u, _), s in zip(pairs, got, strict=False) if s is not None}
