"""A VM deployed through the API on an imported XenServer pool lands on the fake XAPI and is driven there."""

from __future__ import annotations

from typing import Any

import pytest
from virga.client import ApiError, VirgaClient
from virga.core import VirgaApp

from tests.factories import Cloud
from tests.fakes import api_flow as flow
from tests.fakes.xapi import FakeXapi

GUEST_NET = "Pool-wide network associated with eth0"


def guests(fake: FakeXapi) -> list[dict[str, Any]]:
    """The fake pool's guest VMs (no templates, snapshots or control domains)."""
    return [
        r
        for r in fake.db.table("VM").values()
        if not (r["is_a_template"] or r["is_a_snapshot"] or r["is_control_domain"])
    ]


def virga_vdis(fake: FakeXapi) -> list[dict[str, Any]]:
    """VDIs virga made (they carry other_config:virga_volume)."""
    return [r for r in fake.db.table("VDI").values() if "virga_volume" in r["other_config"]]


def host_uuid(fake: FakeXapi, name: str) -> str:
    """The XAPI uuid of a pool host."""
    return next(r["uuid"] for r in fake.db.table("host").values() if r["name_label"] == name)


@pytest.fixture
async def pool(admin: VirgaClient, cloud: Cloud, fake: FakeXapi) -> dict[str, Any]:
    """The fake pool imported as a cluster whose guest NICs go on the pool-wide network."""
    return await flow.add_cluster(
        admin, cloud, "XenServer", f"{fake.url}?guest_network={GUEST_NET}", "root", "password"
    )


async def test_vm_lifecycle_on_the_pool(
    app: VirgaApp, admin: VirgaClient, cloud: Cloud, fake: FakeXapi, pool: dict[str, Any]
) -> None:
    tmpl = await flow.template_named(admin, "Tiny Linux", "XenServer")
    vm = await flow.deploy(app, admin, cloud, tmpl["id"], name="xen-1")
    assert vm["state"] == "Running" and vm["hypervisor"] == "XenServer"
    [rec] = guests(fake)
    assert rec["power_state"] == "Running" and rec["other_config"]["virga_uuid"] == vm["id"]
    host = fake.db.get("host", rec["resident_on"])
    assert host["name_label"] == vm["hostname"]
    [vif] = fake.db.table("VIF").values()
    assert fake.db.get("network", vif["network"])["name_label"] == GUEST_NET
    assert vif["MAC"] == vm["nic"][0]["macaddress"]
    await flow.power_cycle(admin, vm["id"])
    await flow.snapshot_cycle(admin, vm["id"])
    target = await flow.other_host(admin, vm)
    moved = await admin.run("migrateVirtualMachine", virtualmachineid=vm["id"], hostid=target["id"])
    assert moved["virtualmachine"]["hostid"] == target["id"]
    [rec] = guests(fake)
    assert fake.db.get("host", rec["resident_on"])["uuid"] == host_uuid(fake, target["name"])
    scaled = await flow.scale_stopped(app, admin, vm["id"])
    [rec] = guests(fake)
    assert int(rec["memory_static_max"]) == 1024 << 20 and scaled["state"] == "Stopped"
    await flow.destroy(admin, vm["id"])
    assert guests(fake) == [] and virga_vdis(fake) == [] and fake.db.table("VIF") == {}


async def test_what_xenserver_cannot_do_is_refused(
    app: VirgaApp, admin: VirgaClient, cloud: Cloud, fake: FakeXapi, pool: dict[str, Any]
) -> None:
    tmpl = await flow.template_named(admin, "Tiny Linux", "XenServer")
    vm = await flow.deploy(app, admin, cloud, tmpl["id"])
    [root] = await admin.list("listVolumes", "volume", virtualmachineid=vm["id"])
    with pytest.raises(ApiError) as err:  # the driver raises NotSupported (no DISK_SNAPSHOT): 432
        await admin.run("createSnapshot", volumeid=root["id"])
    assert err.value.code == 432 and "not supported by the XenServer hypervisor" in err.value.text
    assert await admin.list("listSnapshots", "snapshot", listall=True) == []
    with pytest.raises(ApiError) as err:  # refused up front from the declared capabilities
        await admin.run("createVMSnapshot", virtualmachineid=vm["id"], snapshotmemory=True)
    assert "not supported by this hypervisor (XenServer)" in err.value.text
    assert await admin.list("listVMSnapshot", "vmSnapshot", virtualmachineid=vm["id"]) == []
    assert [r["name_label"] for r in fake.db.table("VM").values() if r["is_a_snapshot"]] == []
    await flow.destroy(admin, vm["id"])


async def test_template_gone_from_the_pool(
    app: VirgaApp, admin: VirgaClient, cloud: Cloud, fake: FakeXapi, pool: dict[str, Any]
) -> None:
    tmpl = await flow.template_named(admin, "Tiny Linux", "XenServer")
    ref = next(r for r, v in fake.db.table("VM").items() if v["name_label"] == "Tiny Linux")
    fake.db.table("VM").pop(ref)
    before = (len(fake.db.table("VDI")), len(fake.db.table("VBD")))
    with pytest.raises(ApiError) as err:
        await flow.deploy(app, admin, cloud, tmpl["id"])
    assert err.value.code == 530 and "has no template 'Tiny Linux'" in err.value.text
    assert await admin.list("listVirtualMachines", "virtualmachine", listall=True) == []
    assert guests(fake) == [] and virga_vdis(fake) == []
    assert (len(fake.db.table("VDI")), len(fake.db.table("VBD"))) == before
    hosts, _ = await flow.inventory(admin, pool["id"])
    assert all(h["memoryallocated"] == 0 for h in hosts)


async def test_unknown_template_id(app: VirgaApp, admin: VirgaClient, cloud: Cloud, pool: dict[str, Any]) -> None:
    with pytest.raises(ApiError) as err:
        await flow.deploy(app, admin, cloud, "3f0e1a54-0000-4000-8000-000000000000")
    assert err.value.code == 431 and "templateid" in err.value.text
