"""Disk and network totals from the PerformanceManager: the pure integration and against vcsim."""

from __future__ import annotations

import datetime as dt

from virga.api.views.metrics import vm_metrics
from virga.drivers.base import InstanceStats
from virga.drivers.vmware import VMwareDriver
from virga.drivers.vmware.perf import Reading, covers, totals

from tests.contract.harness_vmware import host_driver
from tests.vcsim.fixture import Vcsim
from tests.vmware.conftest import deploy

T0 = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)


def _at(seconds: int) -> dt.datetime:
    """A time some seconds after T0."""
    return T0 + dt.timedelta(seconds=seconds)


def test_rates_become_totals_over_the_kept_samples() -> None:
    reading = Reading(
        ends=(_at(20), _at(40), _at(60)),
        interval=20,
        series={
            "net.received.average": [("", [10, 20, 30]), ("4000", [10, 20, 30])],
            "virtualDisk.write.average": [("scsi0:0", [1, 2, 3]), ("scsi0:1", [4, 0, 0])],
            "virtualDisk.numberReadAveraged.average": [("scsi0:0", [5, 5, 5])],
        },
    )
    got = totals(reading, after=_at(20))
    assert got["net_rx_bytes"] == (20 + 30) * 20 * 1024  # the aggregate instance, not aggregate + per-NIC
    assert got["disk_write_bytes"] == (2 + 3 + 0 + 0) * 20 * 1024  # per-disk instances summed
    assert got["disk_read_ops"] == (5 + 5) * 20
    assert got["net_tx_bytes"] is None and got["disk_write_ops"] is None  # not served: unknown, not 0


def test_missing_or_misaligned_samples_are_unknown() -> None:
    reading = Reading(
        ends=(_at(20), _at(40)),
        interval=20,
        series={
            "net.received.average": [("", [-1, 7])],
            "net.transmitted.average": [("", [7])],
            "datastore.numberWriteAveraged.average": [("ds", [1, 2])],
        },
    )
    got = totals(reading, after=T0)
    assert got["net_rx_bytes"] is None and got["net_tx_bytes"] is None
    assert got["disk_write_ops"] == 3 * 20  # the datastore counter stands in for the virtual disk one


def test_coverage_of_the_boot_time() -> None:
    reading = Reading(ends=(_at(40), _at(60)), interval=20, series={})
    assert covers(reading, _at(20)) and covers(reading, _at(30))
    assert not covers(reading, _at(19))
    assert not covers(Reading(ends=(), interval=20, series={}), T0)


async def test_vcsim_serves_network_and_disk_totals(driver: VMwareDriver, sim: Vcsim) -> None:
    s = await deploy(driver)
    await driver.start_instance(s.uuid)
    first = await driver.instance_stats(s.uuid)
    for total in (first.net_rx_bytes, first.net_tx_bytes, first.disk_write_bytes):
        assert total is not None and total > 0 and total % (20 * 1024) == 0  # KBps x 20 s samples, in bytes
    again = await driver.instance_stats(s.uuid)
    assert again.net_rx_bytes is not None and again.net_rx_bytes >= first.net_rx_bytes
    # vcsim leaves runtime.bootTime unset: a driver that did not power the VM on cannot know
    # what happened since boot, so it says "unknown" rather than 0.
    other = host_driver(sim, "DC0_C0_H0")
    await other.connect()
    try:
        blind = await other.instance_stats(s.uuid)
        assert blind.memory_kb == 256 * 1024
        assert (blind.net_rx_bytes, blind.disk_write_bytes, blind.disk_read_ops) == (None, None, None)
    finally:
        await other.close()


def test_unknown_totals_are_left_out_of_the_metrics_response() -> None:
    st = InstanceStats(
        memory_kb=1024,
        net_rx_bytes=3 * 1024 * 1024,
        net_tx_bytes=None,
        disk_read_bytes=None,
        disk_write_bytes=2048,
        disk_read_ops=None,
        disk_write_ops=4,
    )
    got = vm_metrics({"cpunumber": 1, "cpuspeed": 500, "memory": 1}, st)
    assert got["networkkbsread"] == 3072 and got["networkread"] == "3.00 MB"
    assert got["diskkbswrite"] == 2 and got["diskiowrite"] == 4
    for absent in ("networkkbswrite", "networkwrite", "diskkbsread", "diskread", "diskioread", "diskiopstotal"):
        assert absent not in got
