"""Volumes through the API: lazy creation, attach/detach, resize, migrate, delete, limits and bad input."""

from __future__ import annotations

import pytest
from virga.client import ApiError, VirgaClient
from virga.core import VirgaApp
from virga.drivers.simulator.driver import SimulatorDriver
from virga.drivers.simulator.world import WORLD, Rule
from virga.models import Volume

from tests.api.storage_helpers import code_of, deploy, disk_offering, select_one
from tests.factories import Cloud


async def test_create_is_lazy_then_attach_creates_on_pool(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    vm = await deploy(app, admin, cloud, "admin")
    vol = (await admin.run("createVolume", name="data1", zoneid=cloud.zone, diskofferingid=disk_offering(app)))[
        "volume"
    ]
    assert vol["state"] == "Allocated" and vol["size"] == 5 * 2**30 and "storage" not in vol
    assert vol["diskofferingname"] == "Small" and vol["type"] == "DATADISK"
    vol = (await admin.run("attachVolume", id=vol["id"], virtualmachineid=vm["id"]))["volume"]
    assert vol["state"] == "Ready" and vol["virtualmachineid"] == vm["id"] and vol["deviceid"] == 1
    assert vol["storage"] == "pool-1" and vol["storageid"] == cloud.pool and vol["path"]
    assert vol["vmstate"] == "Running" and vol["vmname"] == vm["name"]
    assert vol["path"] in WORLD.guests[vm["id"]]["volumes"]
    listed = await admin.list("listVolumes", "volume", virtualmachineid=vm["id"])
    assert sorted(v["type"] for v in listed) == ["DATADISK", "ROOT"]
    assert [v["id"] for v in await admin.list("listVolumes", "volume", type="DATADISK")] == [vol["id"]]
    # attached volumes cannot be deleted
    with pytest.raises(ApiError) as err:
        await admin.call("deleteVolume", id=vol["id"])
    assert err.value.code == 536 and "attached" in err.value.text
    vol = (await admin.run("detachVolume", id=vol["id"]))["volume"]
    assert "virtualmachineid" not in vol and vol["state"] == "Ready"
    assert vol["path"] not in WORLD.guests[vm["id"]]["volumes"]
    assert (await admin.call("deleteVolume", id=vol["id"]))["success"] is True
    assert vol["path"] not in WORLD.disks
    assert await admin.list("listVolumes", "volume", id=vol["id"]) == []


async def test_create_attached_at_once_and_custom_size(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    vm = await deploy(app, admin, cloud, "admin")
    vol = (
        await admin.run(
            "createVolume", name="big", diskofferingid=disk_offering(app, "Custom"), size=7, virtualmachineid=vm["id"]
        )
    )["volume"]
    assert vol["size"] == 7 * 2**30 and vol["virtualmachineid"] == vm["id"] and vol["state"] == "Ready"
    vol = (await admin.run("resizeVolume", id=vol["id"], size=9))["volume"]
    assert vol["size"] == 9 * 2**30 and vol["state"] == "Ready"
    assert WORLD.disks[vol["path"]]["size"] == 9 * 2**30
    with pytest.raises(ApiError) as err:
        await admin.call("resizeVolume", id=vol["id"], size=3)
    assert err.value.code == 431 and "size" in err.value.text


async def test_root_volume_cannot_be_detached_or_deleted(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    vm = await deploy(app, admin, cloud, "admin")
    root = (await admin.list("listVolumes", "volume", virtualmachineid=vm["id"], type="ROOT"))[0]
    assert root["deviceid"] == 0 and root["vmstate"] == "Running"
    assert await code_of(admin.call("detachVolume", id=root["id"])) == 431
    assert await code_of(admin.call("deleteVolume", id=root["id"])) == 536


async def test_failed_attach_leaves_volume_allocated(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    vm = await deploy(app, admin, cloud, "admin")
    vol = (await admin.run("createVolume", name="d", zoneid=cloud.zone, diskofferingid=disk_offering(app)))["volume"]
    WORLD.configure(Rule(operation="attach_volume", fail="simulated attach failure", count=1))
    with pytest.raises(ApiError) as err:
        await admin.run("attachVolume", id=vol["id"], virtualmachineid=vm["id"])
    assert "simulated attach failure" in err.value.text
    row = select_one(app, Volume, uuid=vol["id"])
    assert row.state == "Allocated" and row.vm_id is None and row.pool_id is None and not row.path
    assert not [d for d in WORLD.disks if d.endswith(vol["id"])]


async def test_failed_create_attached_leaves_nothing(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    vm = await deploy(app, admin, cloud, "admin")
    WORLD.configure(Rule(operation="prepare_volume", fail="simulated disk failure", count=1))
    with pytest.raises(ApiError):
        await admin.run("createVolume", name="d", diskofferingid=disk_offering(app), virtualmachineid=vm["id"])
    assert await admin.list("listVolumes", "volume", type="DATADISK") == []


async def test_migrate_volume(app: VirgaApp, admin: VirgaClient, cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlmodel import select
    from virga.drivers.base import Capability
    from virga.models import Cluster, StoragePool, Zone

    with app.db.session() as s:
        zone = s.exec(select(Zone).where(Zone.uuid == cloud.zone)).one()
        cl = s.exec(select(Cluster).where(Cluster.uuid == cloud.cluster)).one()
        pool2 = StoragePool(
            name="pool-2",
            zone_id=zone.id or 0,
            cluster_id=cl.id,
            pod_id=cl.pod_id,
            type="Simulator",
            url="simulator://pool-2",
            path="/sim/pool-2",
            capacitybytes=2**40,
        )
        s.add(pool2)
        s.commit()
        pool2_uuid = pool2.uuid
    vm = await deploy(app, admin, cloud, "admin")
    vol = await admin.run("createVolume", name="d", diskofferingid=disk_offering(app), virtualmachineid=vm["id"])
    vol = (await admin.run("detachVolume", id=vol["volume"]["id"]))["volume"]
    target = pool2_uuid if vol["storageid"] != pool2_uuid else cloud.pool
    # a hypervisor without the capability (the simulator made to lack it) refuses, and the volume stays Ready
    monkeypatch.setattr(SimulatorDriver, "capabilities", SimulatorDriver.capabilities - {Capability.MIGRATE_VOLUME})
    with pytest.raises(ApiError) as err:
        await admin.run("migrateVolume", volumeid=vol["id"], storageid=target)
    assert err.value.code == 432 and "not supported by the Simulator hypervisor" in err.value.text
    assert (await admin.list("listVolumes", "volume", id=vol["id"]))[0]["state"] == "Ready"
    monkeypatch.undo()

    old_path = vol["path"]
    vol = (await admin.run("migrateVolume", volumeid=vol["id"], storageid=target))["volume"]
    assert vol["storageid"] == target and vol["state"] == "Ready"
    assert old_path not in WORLD.disks and WORLD.disks[vol["path"]]["pool"] == target


async def test_bad_input_writes_nothing(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    cases = [
        ({"name": "x", "zoneid": cloud.zone}, "diskofferingid"),
        ({"zoneid": cloud.zone, "diskofferingid": "not-a-uuid"}, "diskofferingid"),
        ({"zoneid": cloud.zone, "diskofferingid": disk_offering(app, "Custom")}, "size"),
        ({"zoneid": cloud.zone, "diskofferingid": disk_offering(app, "Custom"), "size": 0}, "size"),
        ({"diskofferingid": disk_offering(app)}, "zoneid"),
        ({"zoneid": "5d8f3c5e-0000-4000-8000-000000000000", "diskofferingid": disk_offering(app)}, "zoneid"),
    ]
    for params, name in cases:
        with pytest.raises(ApiError) as err:
            await admin.call("createVolume", **params)
        assert err.value.code == 431 and name in err.value.text, (params, err.value.text)
    assert await admin.list("listVolumes", "volume", listall=True) == []
    assert await code_of(admin.call("attachVolume", id="5d8f3c5e-0000-4000-8000-000000000000")) == 431
    # An unknown parameter is ignored, as CloudStack does: the volume is made.
    vol = await admin.run("createVolume", name="b", zoneid=cloud.zone, diskofferingid=disk_offering(app), bogus=1)
    assert vol["volume"]["name"] == "b" and "bogus" not in vol["volume"]


async def test_hot_plug_refused_without_capability(
    app: VirgaApp, admin: VirgaClient, cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    from virga.drivers.base import Capability

    vm = await deploy(app, admin, cloud, "admin")
    vol = (await admin.run("createVolume", name="d", zoneid=cloud.zone, diskofferingid=disk_offering(app)))["volume"]
    monkeypatch.setattr(SimulatorDriver, "capabilities", SimulatorDriver.capabilities - {Capability.HOT_PLUG_VOLUME})
    with pytest.raises(ApiError) as err:
        await admin.run("attachVolume", id=vol["id"], virtualmachineid=vm["id"])
    assert "hot-plugging" in err.value.text
    await admin.run("stopVirtualMachine", id=vm["id"])
    vol = (await admin.run("attachVolume", id=vol["id"], virtualmachineid=vm["id"]))["volume"]
    assert vol["vmstate"] == "Stopped" and vol["deviceid"] == 1
