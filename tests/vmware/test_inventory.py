"""Connecting to and importing the simulated vCenter's inventory."""

from __future__ import annotations

import pytest
from virga.drivers.base import HostConnection, PowerState
from virga.drivers.vmware import VMwareDriver

from tests.contract.harness_vmware import host_driver
from tests.vcsim.fixture import Vcsim
from tests.vmware.conftest import POOL, deploy

pytestmark = pytest.mark.integration


async def test_facts_of_the_addressed_host(driver: VMwareDriver) -> None:
    facts = await driver.connect()
    assert facts.name == "DC0_C0_H0"
    assert facts.hypervisor == "VMware" and facts.cpu_count > 0 and facts.memory_bytes > 0
    assert facts.extra["cluster"] == "DC0_C0"


async def test_discover_imports_the_inventory(driver: VMwareDriver) -> None:
    inv = await driver.discover()
    assert inv.datacenter == "DC0"
    clusters = {h.facts.name: h.cluster for h in inv.hosts}
    assert clusters == {"DC0_H0": "", "DC0_C0_H0": "DC0_C0", "DC0_C0_H1": "DC0_C0", "DC0_C0_H2": "DC0_C0"}
    host = next(h for h in inv.hosts if h.facts.name == "DC0_C0_H1")
    assert host.conn.options["host"] == host.facts.extra["moref"]
    assert host.conn.options["verify_ssl"] == "false"
    assert [(p.name, p.kind) for p in inv.pools] == [("LocalDS_0", "datastore")]
    assert {"VM Network", "DC0_DVPG0"} <= set(inv.networks)
    assert [t.name for t in inv.templates] == ["virga-template-0"]


async def test_discovered_connection_addresses_its_host(driver: VMwareDriver) -> None:
    inv = await driver.discover()
    host = next(h for h in inv.hosts if h.facts.name == "DC0_C0_H2")
    other = VMwareDriver(host.conn)
    try:
        assert (await other.connect()).name == "DC0_C0_H2"
        assert all(i.extra["host"] == host.facts.extra["moref"] for i in await other.list_instances())
    finally:
        await other.close()


async def test_calls_connect_on_demand(sim: Vcsim) -> None:
    d = host_driver(sim, "DC0_C0_H1")
    try:
        assert all(i.extra["host"] for i in await d.list_instances())
    finally:
        await d.close()


async def test_pool_stats(driver: VMwareDriver) -> None:
    stats = await driver.pool_stats(POOL)
    assert stats.capacity_bytes > 0 and 0 <= stats.used_bytes <= stats.capacity_bytes


@pytest.mark.vcsim_args("-esx", "-templates", "0")
async def test_standalone_esxi_host(sim: Vcsim) -> None:
    d = VMwareDriver(
        HostConnection(url=sim.url, username=sim.username, password=sim.password, options={"verify_ssl": "false"})
    )
    try:
        facts = await d.connect()
        assert facts.hypervisor == "VMware" and facts.extra["cluster"] == ""
        inv = await d.discover()
        assert len(inv.hosts) == 1 and inv.pools and not inv.templates
        assert len(await d.list_instances()) == 2
        s = await deploy(d, template=None, bridge="VM Network")
        assert (await d.start_instance(s.uuid)).state == PowerState.RUNNING
        await d.destroy_instance(s.uuid)
        await d.delete_volume(s.volumes[0])
    finally:
        await d.close()
