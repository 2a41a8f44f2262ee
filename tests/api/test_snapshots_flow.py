"""Volume snapshots, templates from them, VM snapshots and recurring policies through the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select
from virga.client import ApiError, VirgaClient
from virga.core import VirgaApp
from virga.drivers.base import Capability
from virga.drivers.simulator.driver import SimulatorDriver
from virga.drivers.simulator.world import WORLD, Rule
from virga.models import OsType, Snapshot, SnapshotPolicy, utcnow
from virga.services.snappolicies import run_snapshot_policies

from tests.api.storage_helpers import code_of, deploy, disk_offering, offering
from tests.factories import Cloud


async def _root(admin: VirgaClient, vm: dict) -> dict:
    """The ROOT volume of a VM."""
    return (await admin.list("listVolumes", "volume", virtualmachineid=vm["id"], type="ROOT"))[0]


def _ostype(app: VirgaApp) -> str:
    """Some OS type uuid."""
    with app.db.session() as s:
        return s.exec(select(OsType)).first().uuid  # type: ignore[union-attr]


async def test_snapshot_lifecycle(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    vm = await deploy(app, admin, cloud, "admin", name="snapvm")
    root = await _root(admin, vm)
    snap = (await admin.run("createSnapshot", volumeid=root["id"]))["snapshot"]
    assert snap["state"] == "BackedUp" and snap["volumeid"] == root["id"] and snap["volumetype"] == "ROOT"
    assert snap["name"].startswith("snapvm_") and snap["snapshottype"] == "MANUAL" and snap["revertable"]
    assert snap["name"] and snap["virtualsize"] >= 2 * 2**30
    disk = WORLD.disks[root["path"]]
    assert snap["id"] in disk["snapshots"]
    assert [s["id"] for s in await admin.list("listSnapshots", "snapshot", volumeid=root["id"])] == [snap["id"]]
    # revert needs a stopped VM for ROOT volumes
    with pytest.raises(ApiError) as err:
        await admin.call("revertSnapshot", id=snap["id"])
    assert err.value.code == 431 and "stopped" in err.value.text
    await admin.run("stopVirtualMachine", id=vm["id"])
    assert (await admin.run("revertSnapshot", id=snap["id"]))["snapshot"]["id"] == snap["id"]
    # a volume made from the snapshot
    vol = (await admin.run("createVolume", name="fromsnap", snapshotid=snap["id"]))["volume"]
    assert vol["state"] == "Ready" and vol["size"] == snap["virtualsize"] and vol["storage"] == "pool-1"
    # a template from the snapshot, usable by deployVirtualMachine
    tmpl = (await admin.run("createTemplate", name="snaptmpl", snapshotid=snap["id"], ostypeid=_ostype(app)))[
        "template"
    ]
    assert tmpl["isready"] is True and tmpl["account"] == "admin"
    vm2 = await admin.run(
        "deployVirtualMachine",
        zoneid=cloud.zone,
        templateid=tmpl["id"],
        serviceofferingid=offering(app),
        networkids=vm["nic"][0]["networkid"],
    )
    assert vm2["virtualmachine"]["templateid"] == tmpl["id"] and vm2["virtualmachine"]["state"] == "Running"
    # the template still needs the snapshot
    assert await code_of(admin.run("deleteSnapshot", id=snap["id"])) == 536
    snap2 = (await admin.run("createSnapshot", volumeid=root["id"]))["snapshot"]
    assert (await admin.run("deleteSnapshot", id=snap2["id"]))["success"] is True
    assert snap2["id"] not in WORLD.disks[root["path"]]["snapshots"]
    assert await admin.list("listSnapshots", "snapshot", id=snap2["id"]) == []


async def test_template_from_stopped_vm_root(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    vm = await deploy(app, admin, cloud, "admin")
    root = await _root(admin, vm)
    with pytest.raises(ApiError) as err:
        await admin.call("createTemplate", name="t", volumeid=root["id"], ostypeid=_ostype(app))
    assert err.value.code == 431 and "stopped" in err.value.text
    await admin.run("stopVirtualMachine", id=vm["id"])
    tmpl = (await admin.run("createTemplate", name="t", volumeid=root["id"], ostypeid=_ostype(app)))["template"]
    assert tmpl["isready"] and tmpl["status"] == "Download Complete"
    assert await code_of(admin.call("createTemplate", name="t", ostypeid=_ostype(app))) == 431


async def test_failed_snapshot_leaves_nothing(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    vm = await deploy(app, admin, cloud, "admin")
    root = await _root(admin, vm)
    WORLD.configure(Rule(operation="snapshot_volume", fail="simulated snapshot failure", count=1))
    with pytest.raises(ApiError) as err:
        await admin.run("createSnapshot", volumeid=root["id"])
    assert "simulated snapshot failure" in err.value.text
    assert await admin.list("listSnapshots", "snapshot") == []


async def test_snapshot_bad_input(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    assert await code_of(admin.call("createSnapshot")) == 431
    assert await code_of(admin.call("createSnapshot", volumeid="nope")) == 431
    vol = (await admin.run("createVolume", name="d", zoneid=cloud.zone, diskofferingid=disk_offering(app)))["volume"]
    with pytest.raises(ApiError) as err:
        await admin.call("createSnapshot", volumeid=vol["id"])
    assert err.value.code == 431 and "Allocated" in err.value.text
    assert await admin.list("listSnapshots", "snapshot") == []


async def test_vm_snapshots(app: VirgaApp, admin: VirgaClient, cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    vm = await deploy(app, admin, cloud, "admin")
    a = (
        await admin.run(
            "createVMSnapshot", virtualmachineid=vm["id"], name="before", description="d", snapshotmemory=True
        )
    )["vmsnapshot"]
    assert a["state"] == "Ready" and a["type"] == "DiskAndMemory" and a["current"] is True
    b = (await admin.run("createVMSnapshot", virtualmachineid=vm["id"]))["vmsnapshot"]
    assert b["type"] == "Disk" and b["parent"] == a["id"] and b["current"]
    listed = await admin.list("listVMSnapshot", "vmSnapshot", virtualmachineid=vm["id"])
    assert {x["id"] for x in listed} == {a["id"], b["id"]}
    # disk-only snapshots revert on a stopped VM; memory snapshots on a running one
    assert await code_of(admin.call("revertToVMSnapshot", vmsnapshotid=b["id"])) == 431
    res = await admin.run("revertToVMSnapshot", vmsnapshotid=a["id"])
    assert res["virtualmachine"]["id"] == vm["id"]
    assert (await admin.list("listVMSnapshot", "vmSnapshot", vmsnapshotid=a["id"]))[0]["current"] is True
    await admin.run("deleteVMSnapshot", vmsnapshotid=b["id"])
    assert b["id"] not in WORLD.guests[vm["id"]]["snapshots"]
    assert [x["id"] for x in await admin.list("listVMSnapshot", "vmSnapshot")] == [a["id"]]
    monkeypatch.setattr(SimulatorDriver, "capabilities", SimulatorDriver.capabilities - {Capability.MEMORY_SNAPSHOT})
    with pytest.raises(ApiError) as err:
        await admin.call("createVMSnapshot", virtualmachineid=vm["id"], snapshotmemory=True)
    assert err.value.code == 432 and "not supported by this hypervisor" in err.value.text
    WORLD.configure(Rule(operation="snapshot_instance", fail="simulated vm snapshot failure", count=1))
    assert await code_of(admin.run("createVMSnapshot", virtualmachineid=vm["id"])) == 530
    assert len(await admin.list("listVMSnapshot", "vmSnapshot")) == 1


async def test_snapshot_policies(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    vm = await deploy(app, admin, cloud, "admin")
    root = await _root(admin, vm)
    for bad, name in (
        ({"intervaltype": "YEARLY"}, "intervaltype"),
        ({"schedule": "99"}, "schedule"),
        ({"timezone": "Mars/Base"}, "timezone"),
        ({"maxsnaps": 0}, "maxsnaps"),
    ):
        params = {
            "volumeid": root["id"],
            "intervaltype": "HOURLY",
            "schedule": "5",
            "maxsnaps": 2,
            "timezone": "UTC",
            **bad,
        }
        with pytest.raises(ApiError) as err:
            await admin.call("createSnapshotPolicy", **params)
        assert err.value.code == 431 and name in err.value.text
    pol = (
        await admin.call(
            "createSnapshotPolicy",
            volumeid=root["id"],
            intervaltype="DAILY",
            schedule="30:02",
            maxsnaps=2,
            timezone="Europe/Paris",
        )
    )["snapshotpolicy"]
    assert pol["intervaltype"] == 1 and pol["maxsnaps"] == 2 and pol["volumeid"] == root["id"]
    pol = (await admin.call("updateSnapshotPolicy", id=pol["id"], maxsnaps=2, schedule="15:03"))["snapshotpolicy"]
    assert pol["schedule"] == "15:03"
    assert len(await admin.list("listSnapshotPolicies", "snapshotpolicy", volumeid=root["id"])) == 1
    await run_snapshot_policies(app)  # not due: it was created just now
    assert await admin.list("listSnapshots", "snapshot") == []
    for _ in range(3):
        with app.db.session() as s:
            row = s.exec(select(SnapshotPolicy).where(SnapshotPolicy.uuid == pol["id"])).one()
            row.last_run = utcnow() - timedelta(days=2)
            s.add(row)
            s.commit()
        await run_snapshot_policies(app)
    snaps = await admin.list("listSnapshots", "snapshot", volumeid=root["id"])
    assert len(snaps) == 2 and all(s["snapshottype"] == "RECURRING" and s["intervaltype"] == "DAILY" for s in snaps)
    with app.db.session() as s:
        assert len(s.exec(select(Snapshot)).all()) == 3  # the oldest was deleted
    assert len(WORLD.disks[root["path"]]["snapshots"]) == 2
    await admin.call("deleteSnapshotPolicies", id=pol["id"])
    assert await admin.list("listSnapshotPolicies", "snapshotpolicy", volumeid=root["id"]) == []


async def test_snapshot_limit(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    from tests.api.storage_helpers import user_client

    alice = await user_client(app, "alice")
    vm = await deploy(app, alice, cloud, "alice")
    root = await _root(alice, vm)
    acct = (await admin.list("listAccounts", "account", name="alice"))[0]
    await admin.call("updateResourceLimit", resourcetype=3, max=1, account="alice", domainid=acct["domainid"])
    await alice.run("createSnapshot", volumeid=root["id"])
    with pytest.raises(ApiError) as err:
        await alice.call("createSnapshot", volumeid=root["id"])
    assert err.value.code == 532 and "snapshot" in err.value.text
    await alice.close()
