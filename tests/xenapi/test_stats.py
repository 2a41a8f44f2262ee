"""Disk and network counters come from the VM's RRD (GET /vm_rrd with the session), as real XAPI serves them."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from virga.drivers.base import DriverError
from virga.drivers.xenapi import XenAPIDriver
from virga.drivers.xenapi.rrd import rrd_totals

from tests.fakes.xapi import FakeXapi
from tests.fakes.xapi.rrd import workload
from tests.xenapi.conftest import deploy, record


async def test_stats_read_the_rrd(fake: FakeXapi, driver: XenAPIDriver) -> None:
    made = await deploy(fake, driver)
    await driver.start_instance(made.uuid)
    vm = record(fake, "VM", name_label=made.name)
    workload(
        fake.db,
        vm["uuid"],
        vif_0_rx=3_000_000,
        vif_0_tx=1_000_000,
        vbd_xvda_read=8192 * 1024,
        vbd_xvda_write=4096 * 1024,
        vbd_xvda_iops_read=900,
        vbd_xvda_iops_write=300,
    )
    stats = await driver.instance_stats(made.uuid)
    assert (stats.net_rx_bytes, stats.net_tx_bytes) == (3_000_000, 1_000_000)
    assert (stats.disk_read_bytes, stats.disk_write_bytes) == (8192 * 1024, 4096 * 1024)
    assert (stats.disk_read_ops, stats.disk_write_ops) == (900, 300)
    assert stats.memory_kb == 512 * 1024
    workload(fake.db, vm["uuid"], vif_0_rx=5_000_000)
    assert (await driver.instance_stats(made.uuid)).net_rx_bytes == 5_000_000
    await driver.destroy_instance(made.uuid)


async def test_the_rrd_handler_needs_a_session(fake: FakeXapi, driver: XenAPIDriver) -> None:
    made = await deploy(fake, driver)
    vm = record(fake, "VM", name_label=made.name)
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{fake.url}vm_rrd?session_id=OpaqueRef:nope&uuid={vm['uuid']}", timeout=5)
    assert err.value.code == 401
    await driver.destroy_instance(made.uuid)


def test_latency_and_unknown_readings_are_not_counted() -> None:
    xml = (
        b"<rrd><ds><name>vbd_xvda_read</name><type>DERIVE</type><last_ds>1024.0</last_ds></ds>"
        b"<ds><name>vbd_xvda_read_latency</name><type>GAUGE</type><last_ds>77.0</last_ds></ds>"
        b"<ds><name>vif_1_rx</name><type>DERIVE</type><last_ds>NaN</last_ds></ds></rrd>"
    )
    totals = rrd_totals(xml)
    assert totals["disk_read_bytes"] == 1024 and totals["net_rx_bytes"] == 0
    with pytest.raises(DriverError, match="not an RRD"):
        rrd_totals(b"<html>")
