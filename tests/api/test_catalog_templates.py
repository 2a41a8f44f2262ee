"""Templates and ISOs: registration, the simulated download, filters, permissions, limits."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlmodel import select
from virga.client import ApiError, VirgaClient
from virga.core import VirgaApp
from virga.models import Account, ResourceLimit, Template

from tests.conftest import client_for
from tests.factories import Cloud, make_network, make_user


async def _err(coro: object) -> ApiError:
    """Await a call expected to fail and return its error."""
    with pytest.raises(ApiError) as err:
        await coro  # type: ignore[misc]
    return err.value


async def _statuses(client: VirgaClient, tid: str, until: str, polls: int = 2000) -> list[str]:
    """Poll a template's status (templatefilter=self) until it contains `until`; return what was seen."""
    seen: list[str] = []
    for _ in range(polls):
        (t,) = await client.list("listTemplates", "template", templatefilter="self", id=tid)
        if not seen or seen[-1] != t.get("status"):
            seen.append(t.get("status", ""))
        if until in seen[-1]:
            return seen
        await asyncio.sleep(0.02)
    raise AssertionError(f"template {tid} never reached {until!r}: {seen}")


async def _register(client: VirgaClient, zone: str, name: str, **extra: Any) -> dict[str, Any]:
    """Register a simulated template."""
    body = await client.call(
        "registerTemplate",
        name=name,
        displaytext=name,
        url=f"simulator://{name}.qcow2",
        zoneid=zone,
        format="QCOW2",
        hypervisor="Simulator",
        **extra,
    )
    assert body["count"] == 1
    return body["template"][0]


async def test_simulated_download_progress(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    await admin.call("configureSimulator", name="download_template", value="wait:150")
    t = await _register(
        admin,
        cloud.zone,
        "deb12",
        checksum="{md5}0123456789abcdef0123456789abcdef",
        details=[{"rootDiskController": "virtio"}],
    )
    assert t["isready"] is False and t["zoneid"] == cloud.zone and t["hypervisor"] == "Simulator"
    seen = await _statuses(admin, t["id"], "Download Complete")
    assert any(s.endswith("% Downloaded") for s in seen), seen
    assert seen[-1] == "Download Complete"
    (t,) = await admin.list("listTemplates", "template", templatefilter="executable", id=t["id"])
    assert t["isready"] is True and t["size"] > 0 and t["details"] == {"rootdiskcontroller": "virtio"}
    net = make_network(app, cloud.zone, "admin")
    small = (await admin.list("listServiceOfferings", "serviceoffering", name="Small Instance"))[0]
    vm = (
        await admin.run(
            "deployVirtualMachine", zoneid=cloud.zone, templateid=t["id"], serviceofferingid=small["id"], networkids=net
        )
    )["virtualmachine"]
    assert vm["templateid"] == t["id"] and vm["state"] == "Running"
    assert (await admin.run("deleteTemplate", id=t["id"]))["success"] is True
    assert await admin.list("listTemplates", "template", templatefilter="all", id=t["id"]) == []
    vm = (await admin.run("stopVirtualMachine", id=vm["id"]))["virtualmachine"]
    vm = (await admin.run("startVirtualMachine", id=vm["id"]))["virtualmachine"]
    assert vm["state"] == "Running"


async def test_download_failure_injected(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    mock = (await admin.call("configureSimulator", name="DownloadCommand", value="fail:store is full", count=1))[
        "mockconfig"
    ]
    assert mock["operation"] == "download_template"
    t = await _register(admin, cloud.zone, "broken")
    seen = await _statuses(admin, t["id"], "Failed")
    assert "store is full" in seen[-1]
    jobs = await admin.list("listAsyncJobs", "asyncjobs")
    job = next(j for j in jobs if j.get("jobinstanceid") == t["id"])
    assert job["jobstatus"] == 2 and "store is full" in job["jobresult"]["errortext"]
    (row,) = await admin.list("listTemplates", "template", templatefilter="self", id=t["id"])
    assert row["isready"] is False
    again = await _register(admin, cloud.zone, "fixed")
    assert (await _statuses(admin, again["id"], "Complete"))[-1] == "Download Complete"


async def test_real_download_outside_simulator(app: VirgaApp, admin: VirgaClient) -> None:
    from virga.models import Cluster, ImageStore, Pod, Zone

    with app.db.session() as s:
        z = Zone(name="kvm", allocationstate="Enabled")
        s.add(z)
        s.flush()
        p = Pod(name="p", zone_id=z.id or 0)
        s.add(p)
        s.flush()
        s.add(Cluster(name="c", zone_id=z.id or 0, pod_id=p.id or 0, hypervisor="KVM"))
        s.add(ImageStore(name="nowhere", zone_id=z.id, url="nfs://127.0.0.1/virga-no-such-export"))
        s.commit()
        zone = z.uuid
    err = await _err(
        admin.call(
            "registerTemplate",
            name="k",
            displaytext="k",
            url="simulator://k",
            zoneid=zone,
            format="QCOW2",
            hypervisor="KVM",
        )
    )
    assert err.code == 431 and "url" in err.text
    body = await admin.call(
        "registerTemplate",
        name="k",
        displaytext="k",
        url="http://127.0.0.1:9/none.qcow2",
        zoneid=zone,
        format="QCOW2",
        hypervisor="KVM",
    )
    seen = await _statuses(admin, body["template"][0]["id"], "Failed")
    assert seen[-1].startswith("Download Failed")


@pytest.mark.parametrize(
    ("params", "word"),
    [
        ({"format": "EXE"}, "format"),
        ({"hypervisor": "Bochs"}, "hypervisor"),
        ({"url": "ftp://x/y.qcow2"}, "url"),
        ({"zoneid": "not-a-uuid"}, "zoneid"),
        ({"hypervisor": "XenServer"}, "format"),
        ({"ostypeid": "00000000-0000-0000-0000-000000000000"}, "ostypeid"),
    ],
)
async def test_register_bad_input(app: VirgaApp, admin: VirgaClient, cloud: Cloud, params: dict, word: str) -> None:
    base = {
        "name": "bad",
        "displaytext": "bad",
        "url": "simulator://bad",
        "zoneid": cloud.zone,
        "format": "QCOW2",
        "hypervisor": "Simulator",
    }
    err = await _err(admin.call("registerTemplate", **{**base, **params}))
    assert err.code == 431 and word in err.text
    with app.db.session() as s:
        assert s.exec(select(Template).where(Template.name == "bad")).first() is None


async def test_filters_permissions_and_limits(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    private = await _register(admin, "-1", "admin-private")
    assert private["crossZones"] is True
    await _statuses(admin, private["id"], "Complete")
    alice = await client_for(app, make_user(app, "alice"))
    bob = await client_for(app, make_user(app, "bob"))
    try:
        mine = await _register(alice, cloud.zone, "alice-t")
        assert (await _err(_register(alice, cloud.zone, "feat", isfeatured=True))).code == 531
        await _statuses(alice, mine["id"], "Complete")
        names = {t["name"] for t in await alice.list("listTemplates", "template", templatefilter="executable")}
        assert names == {"tiny-sim", "alice-t"}
        assert {t["name"] for t in await alice.list("listTemplates", "template", templatefilter="featured")} == {
            "tiny-sim"
        }
        assert {t["name"] for t in await bob.list("listTemplates", "template", templatefilter="executable")} == {
            "tiny-sim"
        }
        assert (await _err(bob.call("listTemplates", templatefilter="all"))).code == 531
        assert (await _err(bob.call("updateTemplate", id=mine["id"], name="stolen"))).code == 431
        assert (await _err(bob.run("deleteTemplate", id=mine["id"]))).code == 431
        await alice.call("updateTemplatePermissions", id=mine["id"], accounts="bob", op="add")
        shared = await bob.list("listTemplates", "template", templatefilter="sharedexecutable")
        assert [t["name"] for t in shared] == ["alice-t"]
        perms = (await alice.call("listTemplatePermissions", id=mine["id"]))["templatepermission"]
        assert perms["account"] == ["bob"]
        await alice.call("updateTemplatePermissions", id=mine["id"], ispublic=True, accounts="bob", op="remove")
        community = await bob.list("listTemplates", "template", templatefilter="community")
        assert [t["name"] for t in community] == ["alice-t"]
        up = (await alice.call("updateTemplate", id=mine["id"], displaytext="Alice's"))["template"]
        assert up["displaytext"] == "Alice's"
        with app.db.session() as s:
            acct = s.exec(select(Account).where(Account.name == "alice")).one()
            s.add(ResourceLimit(resourcetype=4, max=1, account_id=acct.id))
            s.commit()
        err = await _err(_register(alice, cloud.zone, "second"))
        assert err.code == 532
    finally:
        await alice.close()
        await bob.close()


async def test_isos(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    body = await admin.call(
        "registerIso",
        name="netinst",
        displaytext="Debian netinst",
        url="simulator://netinst.iso",
        zoneid=cloud.zone,
        bootable=True,
        ispublic=True,
    )
    iso = body["iso"][0]
    assert iso["format"] == "ISO" and iso["bootable"] is True
    for _ in range(2000):
        (iso,) = await admin.list("listIsos", "iso", id=iso["id"], isofilter="self")
        if iso["isready"]:
            break
        await asyncio.sleep(0.02)
    assert iso["status"] == "Download Complete"
    assert [i["id"] for i in await admin.list("listIsos", "iso", isofilter="executable", bootable=True)] == [iso["id"]]
    assert await admin.list("listTemplates", "template", templatefilter="self", id=iso["id"]) == []
    iso = (await admin.call("updateIso", id=iso["id"], bootable=False))["iso"]
    assert iso["bootable"] is False
    assert (await admin.run("deleteIso", id=iso["id"]))["success"] is True
    assert await admin.list("listIsos", "iso", isofilter="all") == []
