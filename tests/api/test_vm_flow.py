"""Deploy -> stop -> start -> destroy -> expunge through the API on the simulator."""

from __future__ import annotations

import pytest
from virga.client import ApiError, VirgaClient
from virga.core import VirgaApp
from virga.drivers.simulator.world import WORLD

from tests.factories import Cloud, make_network


async def _offering(admin: VirgaClient, name: str = "Small Instance") -> str:
    from sqlmodel import select
    from virga.models import ServiceOffering

    app = admin.http._transport.app.state.virga  # type: ignore[attr-defined]
    with app.db.session() as s:
        return s.exec(select(ServiceOffering).where(ServiceOffering.name == name)).one().uuid


async def test_vm_lifecycle(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    net = make_network(app, cloud.zone, "admin")
    off = await _offering(admin)
    res = await admin.run(
        "deployVirtualMachine",
        zoneid=cloud.zone,
        templateid=cloud.template,
        serviceofferingid=off,
        networkids=net,
        name="web-1",
    )
    vm = res["virtualmachine"]
    assert vm["state"] == "Running" and vm["name"] == "web-1"
    assert vm["nic"][0]["ipaddress"].startswith("10.1.1.")
    assert vm["id"] in WORLD.guests and WORLD.guests[vm["id"]]["power"] == "on"
    vm = (await admin.run("stopVirtualMachine", id=vm["id"]))["virtualmachine"]
    assert vm["state"] == "Stopped"
    vm = (await admin.run("startVirtualMachine", id=vm["id"]))["virtualmachine"]
    assert vm["state"] == "Running"
    vm = (await admin.run("destroyVirtualMachine", id=vm["id"]))["virtualmachine"]
    assert vm["state"] == "Destroyed"
    await admin.run("expungeVirtualMachine", id=vm["id"])
    assert vm["id"] not in WORLD.guests
    assert await admin.list("listVirtualMachines", "virtualmachine", listall=True) == []


async def test_failed_deploy_leaves_nothing(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    from virga.drivers.simulator.world import Rule

    net = make_network(app, cloud.zone, "admin")
    WORLD.configure(Rule(operation="start_instance", fail="simulated start failure", count=1))
    with pytest.raises(ApiError) as err:
        await admin.run(
            "deployVirtualMachine",
            zoneid=cloud.zone,
            templateid=cloud.template,
            serviceofferingid=await _offering(admin),
            networkids=net,
        )
    assert err.value.code == 530 and "simulated start failure" in err.value.text
    assert await admin.list("listVirtualMachines", "virtualmachine", listall=True) == []
    assert not WORLD.guests and not WORLD.disks
