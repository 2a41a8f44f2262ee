"""The same API flows as on SQLite, against a management server on a throwaway PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlmodel import select
from virga.api.server import make_asgi
from virga.client import ApiError, VirgaClient
from virga.core import VirgaApp
from virga.drivers.simulator.world import WORLD
from virga.models import Nic, ServiceOffering, VirtualMachine

from tests.factories import Cloud, build_sim_cloud, make_network, make_user


@pytest.fixture
async def admin(app: VirgaApp) -> AsyncIterator[VirgaClient]:
    """An in-process client signed with the root admin's API keys."""
    client = VirgaClient(asgi=make_asgi(app, manage=False), creds=make_user(app, "admin"))
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def cloud(app: VirgaApp) -> Cloud:
    """A simulator zone built in the PostgreSQL database, with the admin's isolated network."""
    return build_sim_cloud(app)


def offering_of(app: VirgaApp, name: str = "Small Instance") -> str:
    """The uuid of a default service offering."""
    with app.db.session() as s:
        return s.exec(select(ServiceOffering).where(ServiceOffering.name == name)).one().uuid


def test_backend_is_postgresql(app: VirgaApp) -> None:
    assert app.db.engine.dialect.name == "postgresql"


async def test_vm_lifecycle(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    net = make_network(app, cloud.zone, "admin")
    vm = (
        await admin.run(
            "deployVirtualMachine",
            zoneid=cloud.zone,
            templateid=cloud.template,
            serviceofferingid=offering_of(app),
            networkids=net,
            name="web-1",
        )
    )["virtualmachine"]
    assert vm["state"] == "Running" and vm["nic"][0]["ipaddress"].startswith("10.1.1.")
    listed = await admin.list("listVirtualMachines", "virtualmachine", id=vm["id"])
    assert [v["name"] for v in listed] == ["web-1"]
    vols = await admin.list("listVolumes", "volume", virtualmachineid=vm["id"], listall=True)
    assert [v["type"] for v in vols] == ["ROOT"]
    assert (await admin.run("stopVirtualMachine", id=vm["id"]))["virtualmachine"]["state"] == "Stopped"
    assert WORLD.guests[vm["id"]]["power"] == "off"
    assert (await admin.run("startVirtualMachine", id=vm["id"]))["virtualmachine"]["state"] == "Running"
    assert (await admin.run("destroyVirtualMachine", id=vm["id"]))["virtualmachine"]["state"] == "Destroyed"
    await admin.run("expungeVirtualMachine", id=vm["id"])
    assert vm["id"] not in WORLD.guests
    assert await admin.list("listVirtualMachines", "virtualmachine", listall=True) == []
    assert await admin.list("listVolumes", "volume", listall=True) == []


async def test_failed_deploy_leaves_nothing(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    net = make_network(app, cloud.zone, "admin")
    await admin.call("configureSimulator", name="start_instance", value="fail:injected on postgres", count=1)
    with pytest.raises(ApiError) as err:
        await admin.run(
            "deployVirtualMachine",
            zoneid=cloud.zone,
            templateid=cloud.template,
            serviceofferingid=offering_of(app),
            networkids=net,
        )
    assert err.value.code == 530 and "injected on postgres" in err.value.text
    assert await admin.list("listVirtualMachines", "virtualmachine", listall=True) == []
    assert await admin.list("listVolumes", "volume", listall=True) == []
    assert not WORLD.guests and not WORLD.disks
    hosts = await admin.list("listHosts", "host")
    assert all(int(h["cpuallocatedvalue"]) == 0 and int(h["memoryallocated"]) == 0 for h in hosts)
    with app.db.session() as s:
        assert s.exec(select(Nic).where(Nic.removed == None)).all() == []  # noqa: E711  (no IP held)
        assert s.exec(select(VirtualMachine)).all() == [] or all(
            v.removed is not None for v in s.exec(select(VirtualMachine))
        )


async def test_pagination_and_keyword(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    net = make_network(app, cloud.zone, "admin")
    off = offering_of(app)
    for i in range(7):
        await admin.run(
            "deployVirtualMachine",
            zoneid=cloud.zone,
            templateid=cloud.template,
            serviceofferingid=off,
            networkids=net,
            name=f"{'db' if i % 3 == 0 else 'web'}-{i}",
        )
    pages = [await admin.call("listVirtualMachines", page=p, pagesize=3, listall=True) for p in (1, 2, 3)]
    assert [b["count"] for b in pages] == [7, 7, 7]
    names = [v["name"] for b in pages for v in b["virtualmachine"]]
    assert [len(b["virtualmachine"]) for b in pages] == [3, 3, 1] and len(set(names)) == 7
    found = await admin.list("listVirtualMachines", "virtualmachine", keyword="db-", listall=True)
    assert sorted(v["name"] for v in found) == ["db-0", "db-3", "db-6"]
    upper = await admin.list("listVirtualMachines", "virtualmachine", keyword="DB-", listall=True)
    assert sorted(v["name"] for v in upper) == ["db-0", "db-3", "db-6"]  # keyword matching ignores case
    assert await admin.list("listVirtualMachines", "virtualmachine", keyword="nomatch", listall=True) == []
    hosts = await admin.list("listHosts", "host")
    assert sum(int(h["cpuallocatedvalue"]) for h in hosts) == sum(
        v["cpunumber"] * v["cpuspeed"] for v in await admin.list("listVirtualMachines", "virtualmachine", listall=True)
    )
