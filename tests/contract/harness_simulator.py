"""Contract harness for the simulator driver."""

from __future__ import annotations

from collections.abc import AsyncIterator

from virga.drivers.base import HostConnection, PoolSpec, TemplateSpec
from virga.drivers.simulator import SimulatorDriver
from virga.drivers.simulator.world import WORLD

from tests.contract.harness import Harness, register


@register("simulator")
async def simulator() -> AsyncIterator[Harness]:
    """Two simulated hosts sharing a pool."""
    WORLD.reset()
    one = SimulatorDriver(HostConnection(url="simulator://contract-1"))
    two = SimulatorDriver(HostConnection(url="simulator://contract-2"))
    await one.connect()
    await two.connect()
    pool = PoolSpec(uuid="pool-1", name="pool", kind="simulator", url="simulator://pool", path="/sim/pool")
    tmpl = TemplateSpec(uuid="tmpl-1", name="tiny", url="simulator://tiny.qcow2", size_bytes=1 << 30)

    async def set_up() -> bool:
        """Whether the first host has the pool set up."""
        return pool.uuid in WORLD.pools.get("contract-1", set())

    second_pool = PoolSpec(uuid="pool-2", name="pool-2", kind="simulator", url="simulator://pool-2", path="/sim/pool-2")
    yield Harness(
        driver=one,
        pool=pool,
        template=tmpl,
        bridge="br0",
        second=two,
        pool_set_up=set_up,
        extra={"second_pool": second_pool},
    )
    for info in await one.list_instances() + await two.list_instances():
        await (one if info.uuid in {i.uuid for i in await one.list_instances()} else two).destroy_instance(info.uuid)
