"""HA on the simulator: a host goes Down with its guests still defined there; the HA VM runs again elsewhere."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlparse

from sqlmodel import select
from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.drivers.simulator.world import WORLD
from virga.models import Host
from virga.services.sync import sync_all

from tests.api.storage_helpers import own_template
from tests.factories import Cloud, make_network


async def _state(admin: VirgaClient, host_id: str) -> str:
    """A host's state as listHosts reports it."""
    return str((await admin.list("listHosts", "host", id=host_id))[0]["state"])


async def test_down_host_restarts_the_ha_vm_on_the_other_host(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    await admin.call("updateConfiguration", name="ping.interval", value="0.1")
    await admin.call("updateConfiguration", name="ping.timeout", value="1")
    ha = await admin.call(
        "createServiceOffering", name="ha", displaytext="HA", cpunumber=1, cpuspeed=500, memory=256, offerha=True
    )
    a, b = cloud.hosts
    vm = (
        await admin.run(
            "deployVirtualMachine",
            zoneid=cloud.zone,
            templateid=own_template(app, cloud, "admin"),
            serviceofferingid=ha["serviceoffering"]["id"],
            networkids=make_network(app, cloud.zone, "admin"),
            hostid=a,
            name="ha-vm",
        )
    )["virtualmachine"]
    with app.db.session() as s:
        dead = urlparse(s.exec(select(Host).where(Host.uuid == a)).one().url).netloc
    WORLD.down_hosts.add(dead)  # it stops answering; its guest stays defined there, as on a real crash
    try:
        start = time.monotonic()
        deadline = start + 30
        while True:
            await sync_all(app)
            got = (await admin.list("listVirtualMachines", "virtualmachine", id=vm["id"]))[0]
            if got["state"] == "Running" and got.get("hostid") == b:
                break
            assert time.monotonic() < deadline, f"HA VM not running on {b}: {got['state']} on {got.get('hostid')}"
            await asyncio.sleep(0.1)
        assert await _state(admin, a) == "Down"
        assert WORLD.guest(dead, vm["id"]) is not None  # the stale definition on the dead host
        assert WORLD.guests[vm["id"]]["host"] != dead and WORLD.guests[vm["id"]]["power"] == "on"
        subjects = " | ".join(x.get("subject", "") for x in await admin.list("listAlerts", "alert"))
        assert "HA restart of VM ha-vm" in subjects
    finally:
        WORLD.down_hosts.clear()
