"""listVirtualMachinesMetrics and listHostsMetrics on the simulator."""

from __future__ import annotations

from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.drivers.simulator.world import WORLD

from tests.api.storage_helpers import deploy
from tests.factories import Cloud


async def test_vm_metrics(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    running = await deploy(app, admin, cloud, "admin", name="up")
    stopped = await deploy(app, admin, cloud, "admin", name="down", net=running["nic"][0]["networkid"])
    await admin.run("stopVirtualMachine", id=stopped["id"])
    items = {v["name"]: v for v in await admin.list("listVirtualMachinesMetrics", "virtualmachine")}
    up, down = items["up"], items["down"]
    assert up["cputotal"] == "0.50 Ghz" and up["memorytotal"] == "512.00 MB" and up["cpuused"].endswith("%")
    for key in (
        "memoryintfreekbs",
        "networkkbsread",
        "networkkbswrite",
        "diskkbsread",
        "diskiopstotal",
        "networkread",
        "diskwrite",
    ):
        assert key in up, key
    assert up["ipaddress"] == running["nic"][0]["ipaddress"]
    assert "cpuused" not in down and down["cputotal"] == "0.50 Ghz"
    assert [v["name"] for v in await admin.list("listVirtualMachinesMetrics", "virtualmachine", state="Stopped")] == [
        "down"
    ]
    # a host that does not answer leaves the usage out, the list still answers
    host = next(g["host"] for g in WORLD.guests.values() if g["uuid"] == running["id"])
    WORLD.down_hosts.add(host)
    try:
        up = (await admin.list("listVirtualMachinesMetrics", "virtualmachine", name="up"))[0]
        assert "cpuused" not in up and up["state"] == "Running"
    finally:
        WORLD.down_hosts.discard(host)


async def test_host_metrics(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    await deploy(app, admin, cloud, "admin")
    hosts = await admin.list("listHostsMetrics", "host")
    assert len(hosts) == 2
    busy = next(h for h in hosts if h["instances"] == 1)
    assert busy["cputotalghz"] == "16.00 Ghz" and busy["cpuallocatedghz"] == "0.50 Ghz"
    assert busy["memorytotalgb"] == "16.00 GB" and "memoryusedgb" in busy and "cpuusedghz" in busy
