"""The isolation matrix: another account's user, and a sibling domain's admin, never get a resource."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlmodel import select
from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.models import AsyncJob, OsType

from tests.api.storage_helpers import code_of, deploy, disk_offering, offering, own_template, user_client
from tests.factories import Cloud, make_domain, make_network

DENIED = (431, 531)


@dataclass
class World:
    """Alice's resources in domain d1, and the callers that try to reach them."""

    ids: dict[str, str] = field(default_factory=dict)
    alice: Any = None
    bob: Any = None
    boss1: Any = None
    boss2: Any = None


@pytest.fixture
async def world(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> Any:
    """alice (d1) owns one of everything; bob is another account of d1; boss1/boss2 administer d1/d2."""
    make_domain(app, "d1")
    make_domain(app, "d2")
    w = World()
    w.alice = await user_client(app, "alice", domain_path="/d1/")
    w.bob = await user_client(app, "bob", domain_path="/d1/")
    w.boss1 = await user_client(app, "boss1", accounttype=2, domain_path="/d1/")
    w.boss2 = await user_client(app, "boss2", accounttype=2, domain_path="/d2/")
    vm = await deploy(app, w.alice, cloud, "alice", name="secret-vm")
    root = (await w.alice.list("listVolumes", "volume", type="ROOT"))[0]
    vol = (await w.alice.run("createVolume", name="secret-vol", zoneid=cloud.zone, diskofferingid=disk_offering(app)))[
        "volume"
    ]
    snap = (await w.alice.run("createSnapshot", volumeid=root["id"]))["snapshot"]
    vms = (await w.alice.run("createVMSnapshot", virtualmachineid=vm["id"]))["vmsnapshot"]
    await w.alice.call("createSSHKeyPair", name="alice-key")
    await w.alice.run("createTags", resourceids=vm["id"], resourcetype="UserVm", tags=[{"key": "k", "value": "v"}])
    with app.db.session() as s:
        ostype = s.exec(select(OsType)).first().uuid  # type: ignore[union-attr]
    tmpl = await w.alice.run("createTemplate", name="alice-tmpl", snapshotid=snap["id"], ostypeid=ostype)
    with app.db.session() as s:
        job = s.exec(select(AsyncJob).where(AsyncJob.instance_uuid == vm["id"])).first()
    acct = (await w.alice.list("listAccounts", "account"))[0]
    w.ids = {
        "vm": vm["id"],
        "root": root["id"],
        "vol": vol["id"],
        "snap": snap["id"],
        "vms": vms["id"],
        "tmpl": tmpl["template"]["id"],
        "job": job.uuid if job else "",
        "account": acct["id"],
        "user": acct["user"][0]["id"],
        "domain": acct["domainid"],
        "network": vm["nic"][0]["networkid"],
        "ostype": ostype,
    }
    yield w
    for c in (w.alice, w.bob, w.boss1, w.boss2):
        await c.close()


async def _lists_nothing(client: VirgaClient, w: World) -> None:
    """Every list command, asked for alice's resources by id and with listall, shows none of them."""
    i = w.ids
    checks = [
        ("listVirtualMachines", "virtualmachine", {"id": i["vm"]}),
        ("listVirtualMachines", "virtualmachine", {"listall": True}),
        ("listVirtualMachinesMetrics", "virtualmachine", {"listall": True}),
        ("listVolumes", "volume", {"id": i["vol"]}),
        ("listVolumes", "volume", {"listall": True}),
        ("listSnapshots", "snapshot", {"listall": True}),
        ("listSnapshots", "snapshot", {"id": i["snap"]}),
        ("listVMSnapshot", "vmSnapshot", {"listall": True}),
        ("listSSHKeyPairs", "sshkeypair", {"listall": True}),
        ("listTags", "tag", {"listall": True}),
        ("listTemplates", "template", {"templatefilter": "all", "id": i["tmpl"]}),
        ("listTemplates", "template", {"templatefilter": "self"}),
        ("listEvents", "event", {"listall": True}),
        ("listAsyncJobs", "asyncjobs", {"listall": True}),
        ("listAccounts", "account", {"id": i["account"]}),
        ("listUsers", "user", {"id": i["user"]}),
    ]
    for cmd, item, params in checks:
        try:
            rows = await client.list(cmd, item, **params)
        except Exception as exc:  # an error is fine too, as long as nothing leaks
            assert getattr(exc, "code", 0) in DENIED, (cmd, exc)
            continue
        owners = {r.get("account") for r in rows} | {r.get("name") for r in rows if cmd == "listAccounts"}
        leaked = {r.get("id") or r.get("jobid") or r.get("key") for r in rows} & set(i.values())
        assert "alice" not in owners and not leaked, (cmd, rows)


async def _mutations_refused(client: VirgaClient, w: World, cloud: Cloud, app: VirgaApp) -> None:
    """Every get/mutate command on alice's resources fails with 431 or 531 (or is unavailable, 432)."""
    i = w.ids
    calls: list[tuple[str, dict[str, Any]]] = [
        ("startVirtualMachine", {"id": i["vm"]}),
        ("stopVirtualMachine", {"id": i["vm"]}),
        ("rebootVirtualMachine", {"id": i["vm"]}),
        ("destroyVirtualMachine", {"id": i["vm"]}),
        ("updateVirtualMachine", {"id": i["vm"], "displayname": "pwned"}),
        ("attachVolume", {"id": i["vol"], "virtualmachineid": i["vm"]}),
        ("detachVolume", {"id": i["root"]}),
        ("resizeVolume", {"id": i["vol"], "size": 50}),
        ("deleteVolume", {"id": i["vol"]}),
        ("createSnapshot", {"volumeid": i["root"]}),
        ("deleteSnapshot", {"id": i["snap"]}),
        ("revertSnapshot", {"id": i["snap"]}),
        ("createVolume", {"snapshotid": i["snap"], "name": "x"}),
        ("createTemplate", {"snapshotid": i["snap"], "name": "x", "ostypeid": i["ostype"]}),
        ("createVMSnapshot", {"virtualmachineid": i["vm"]}),
        ("revertToVMSnapshot", {"vmsnapshotid": i["vms"]}),
        ("deleteVMSnapshot", {"vmsnapshotid": i["vms"]}),
        (
            "createSnapshotPolicy",
            {"volumeid": i["root"], "intervaltype": "DAILY", "schedule": "00:01", "maxsnaps": 1, "timezone": "UTC"},
        ),
        ("createTags", {"resourceids": i["vm"], "resourcetype": "UserVm", "tags": [{"key": "a", "value": "b"}]}),
        ("deleteTags", {"resourceids": i["vm"], "resourcetype": "UserVm"}),
        ("deleteSSHKeyPair", {"name": "alice-key"}),
        ("resetSSHKeyForVirtualMachine", {"id": i["vm"], "keypair": "alice-key"}),
        (
            "deployVirtualMachine",
            {
                "zoneid": cloud.zone,
                "templateid": i["tmpl"],
                "serviceofferingid": offering(app),
                "networkids": i["network"],
            },
        ),
        ("queryAsyncJobResult", {"jobid": i["job"]}),
        ("registerUserKeys", {"id": i["user"]}),
        ("getUserKeys", {"id": i["user"]}),
        ("updateUser", {"id": i["user"], "firstname": "pwned"}),
        ("listResourceLimits", {"account": "alice", "domainid": i["domain"]}),
        ("listVirtualMachines", {"account": "alice", "domainid": i["domain"]}),
    ]
    for cmd, params in calls:
        code = await code_of(client.call(cmd, **params))
        assert code in DENIED + (432,), (cmd, code)


async def test_other_account_user_gets_nothing(app: VirgaApp, cloud: Cloud, world: World) -> None:
    await _lists_nothing(world.bob, world)
    await _mutations_refused(world.bob, world, cloud, app)
    # alice's resources are untouched
    vm = (await world.alice.list("listVirtualMachines", "virtualmachine", id=world.ids["vm"]))[0]
    assert vm["state"] == "Running" and vm["displayname"] == "secret-vm"
    assert len(await world.alice.list("listTags", "tag")) == 1


async def test_sibling_domain_admin_gets_nothing(app: VirgaApp, cloud: Cloud, world: World) -> None:
    await _lists_nothing(world.boss2, world)
    await _mutations_refused(world.boss2, world, cloud, app)
    for cmd, params in (
        ("listDomainChildren", {"id": world.ids["domain"]}),
        ("listAccounts", {"domainid": world.ids["domain"]}),
        ("listVolumes", {"domainid": world.ids["domain"]}),
        (
            "createAccount",
            {
                "username": "x",
                "password": "p",
                "email": "x@y.z",
                "firstname": "x",
                "lastname": "y",
                "accounttype": 0,
                "domainid": world.ids["domain"],
            },
        ),
    ):
        assert await code_of(world.boss2.call(cmd, **params)) in DENIED, cmd


async def test_domain_admin_sees_subtree(app: VirgaApp, cloud: Cloud, world: World) -> None:
    i, boss = world.ids, world.boss1
    assert [v["id"] for v in await boss.list("listVirtualMachines", "virtualmachine", listall=True)] == [i["vm"]]
    assert i["vol"] in {v["id"] for v in await boss.list("listVolumes", "volume", listall=True)}
    assert [s["id"] for s in await boss.list("listSnapshots", "snapshot", listall=True)] == [i["snap"]]
    assert [s["id"] for s in await boss.list("listVMSnapshot", "vmSnapshot", listall=True)] == [i["vms"]]
    assert {a["name"] for a in await boss.list("listAccounts", "account", listall=True)} == {"alice", "bob", "boss1"}
    assert (await boss.call("queryAsyncJobResult", jobid=i["job"]))["jobstatus"] == 1
    assert (await boss.call("getUserKeys", id=i["user"]))["userkeys"]["apikey"]
    # and bob can still use his own resources
    net = make_network(app, cloud.zone, "bob", cidr="10.1.9.0/24", name="bobnet")
    res = await world.bob.run(
        "deployVirtualMachine",
        zoneid=cloud.zone,
        templateid=own_template(app, cloud, "bob"),
        serviceofferingid=offering(app),
        networkids=net,
    )
    assert res["virtualmachine"]["account"] == "bob"
