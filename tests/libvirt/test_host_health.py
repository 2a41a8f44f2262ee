"""Host health: Up -> Disconnected -> Down with alerts, HA restarts elsewhere, and a real libvirtd outage."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
from sqlmodel import select
from virga.drivers.simulator.world import WORLD
from virga.models import Host
from virga.services.sync import sync_all

from tests.libvirt import support


async def _host_state(admin, host_id: str) -> str:  # noqa: ANN001
    """A host's state as listHosts reports it."""
    return str((await admin.list("listHosts", "host", id=host_id))[0]["state"])


async def _until(check, timeout: float = 60.0) -> None:  # noqa: ANN001
    """Wait until an async check returns true."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.1)


async def test_down_host_restarts_ha_vms_elsewhere(app, admin, cloud) -> None:  # noqa: ANN001
    await admin.call("updateConfiguration", name="ping.interval", value="0.1")
    await admin.call("updateConfiguration", name="ping.timeout", value="1")
    ha = (
        await admin.call(
            "createServiceOffering",
            name="ha-small",
            displaytext="HA",
            cpunumber=1,
            cpuspeed=500,
            memory=256,
            offerha=True,
        )
    )["serviceoffering"]
    plain = (await admin.list("listServiceOfferings", "serviceoffering", name="Small Instance"))[0]
    off = (
        await admin.list(
            "listNetworkOfferings", "networkoffering", name="DefaultIsolatedNetworkOfferingWithSourceNatService"
        )
    )[0]
    net = (
        await admin.call(
            "createNetwork",
            name="ha-net",
            displaytext="ha",
            zoneid=cloud.zone,
            networkofferingid=off["id"],
            gateway="10.8.1.1",
            netmask="255.255.255.0",
        )
    )["network"]
    a, b = cloud.hosts
    vms = {}
    for name, offering in (("ha-vm", ha["id"]), ("plain-vm", plain["id"])):
        vms[name] = (
            await admin.run(
                "deployVirtualMachine",
                zoneid=cloud.zone,
                templateid=cloud.template,
                serviceofferingid=offering,
                networkids=net["id"],
                hostid=a,
                name=name,
            )
        )["virtualmachine"]
    assert vms["ha-vm"]["haenable"] is True and vms["ha-vm"]["hostid"] == a

    with app.db.session() as s:
        url = s.exec(select(Host).where(Host.uuid == a)).one().url
    dead = urlparse(url).netloc
    WORLD.down_hosts.add(dead)  # the simulated host crashes: it stops answering and its guests are gone
    for uuid in [u for u, g in WORLD.guests.items() if g.get("host") == dead]:
        WORLD.guests.pop(uuid)
    try:
        await sync_all(app)
        assert await _host_state(admin, a) == "Disconnected"

        async def down() -> bool:
            """Ping again; whether the host is Down (after ping.interval x ping.timeout)."""
            await sync_all(app)
            return await _host_state(admin, a) == "Down"

        await _until(down, 30)

        async def ha_vm_runs_on_b() -> bool:
            """Whether the HA VM runs again, on the other host."""
            vm = (await admin.list("listVirtualMachines", "virtualmachine", id=vms["ha-vm"]["id"]))[0]
            return vm["state"] == "Running" and vm.get("hostid") == b

        try:
            await _until(ha_vm_runs_on_b)
        except AssertionError:
            jobs = await admin.list("listAsyncJobs", "asyncjobs", listall=True)
            vm = await admin.list("listVirtualMachines", "virtualmachine", id=vms["ha-vm"]["id"])
            starts = [(j["cmd"], j.get("jobresult")) for j in jobs if "start" in j["cmd"]]
            raise AssertionError(f"HA VM not running on {b}: {vm[0]['state']}, start jobs {starts}") from None
        plain_vm = (await admin.list("listVirtualMachines", "virtualmachine", id=vms["plain-vm"]["id"]))[0]
        assert plain_vm["state"] == ("Stopped" if vms["plain-vm"]["hostid"] == a else "Running")
        subjects = " | ".join(x.get("subject", "") for x in await admin.list("listAlerts", "alert"))
        assert "is disconnected" in subjects and "is down" in subjects and "HA restart of VM ha-vm" in subjects
    finally:
        WORLD.down_hosts.clear()
    await sync_all(app)
    assert await _host_state(admin, a) == "Up"


@pytest.mark.integration
async def test_libvirtd_outage_disconnects_then_recovers(app, admin, cloud, daemons) -> None:  # noqa: ANN001
    cluster = (
        await admin.call(
            "addCluster",
            zoneid=cloud.zone,
            podid=cloud.pod,
            hypervisor="KVM",
            clustername="kvm-health",
            clustertype="CloudManaged",
        )
    )["cluster"][0]
    host = (
        await admin.call(
            "addHost",
            zoneid=cloud.zone,
            podid=cloud.pod,
            clusterid=cluster["id"],
            hypervisor="KVM",
            url="qemu:///system",
        )
    )["host"][0]
    assert host["state"] == "Up"
    await sync_all(app)
    pid = Path("/run/libvirtd.pid").read_text().strip()
    subprocess.run(["kill", pid], check=True)  # guests keep running; libvirtd finds them again on restart
    try:
        for _ in range(100):
            if not support.running("libvirtd"):
                break
            await asyncio.sleep(0.1)
        await sync_all(app)
        assert await _host_state(admin, host["id"]) == "Disconnected"
    finally:
        support.start_daemons()
    await sync_all(app)
    assert await _host_state(admin, host["id"]) == "Up"
    events = " | ".join(e.get("description", "") for e in await admin.list("listEvents", "event", listall=True))
    assert "is back (Disconnected -> Up)" in events
