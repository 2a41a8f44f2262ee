"""Primary storage pools and image stores through the API."""

from __future__ import annotations

import pytest
from sqlmodel import select
from virga.client import ApiError, VirgaClient
from virga.core import VirgaApp
from virga.models import StoragePool, Volume

from tests.factories import Cloud


async def _code(coro: object) -> ApiError:
    """Await a call expected to fail and return its error."""
    with pytest.raises(ApiError) as err:
        await coro  # type: ignore[misc]
    return err.value


async def test_create_list_update_pools(admin: VirgaClient, cloud: Cloud) -> None:
    nfs = (
        await admin.call(
            "createStoragePool",
            zoneid=cloud.zone,
            podid=cloud.pod,
            clusterid=cloud.cluster,
            name="nfs-1",
            url="nfs://10.0.0.5/export/primary",
            tags="ssd",
        )
    )["storagepool"]
    assert nfs["type"] == "NetworkFilesystem" and nfs["ipaddress"] == "10.0.0.5"
    assert nfs["path"] == "/export/primary" and nfs["scope"] == "CLUSTER" and nfs["tags"] == "ssd"
    assert nfs["clusterid"] == cloud.cluster and nfs["zoneid"] == cloud.zone and nfs["state"] == "Up"
    local = (
        await admin.call(
            "createStoragePool",
            zoneid=cloud.zone,
            name="local-1",
            url="/var/lib/virga/pool",
            scope="zone",
            hypervisor="simulator",
            capacitybytes=10 * 2**30,
        )
    )["storagepool"]
    assert local["type"] == "Filesystem" and local["scope"] == "ZONE" and local["disksizetotal"] == 10 * 2**30
    assert "clusterid" not in local and local["hypervisor"] == "Simulator"
    sim = (
        await admin.call(
            "createStoragePool",
            zoneid=cloud.zone,
            podid=cloud.pod,
            clusterid=cloud.cluster,
            name="sim-2",
            url="simulator://sim-2",
        )
    )["storagepool"]
    assert sim["type"] == "Simulator" and sim["disksizetotal"] > 0
    pools = await admin.list("listStoragePools", "storagepool", zoneid=cloud.zone)
    assert {p["name"] for p in pools} == {"pool-1", "nfs-1", "local-1", "sim-2"}
    for p in pools:
        assert {"disksizetotal", "disksizeallocated", "disksizeused", "state", "scope", "zonename"} <= set(p)
    up = (await admin.call("updateStoragePool", id=nfs["id"], tags="fast,ssd", enabled=False))["storagepool"]
    assert up["tags"] == "fast,ssd" and up["state"] == "Disabled"
    up = (await admin.call("updateStoragePool", id=nfs["id"], enabled=True, capacitybytes=5 * 2**40))["storagepool"]
    assert up["state"] == "Up" and up["disksizetotal"] == 5 * 2**40
    m = (await admin.run("enableStorageMaintenance", id=nfs["id"]))["storagepool"]
    assert m["state"] == "Maintenance"
    m = (await admin.run("cancelStorageMaintenance", id=nfs["id"]))["storagepool"]
    assert m["state"] == "Up"
    assert (await admin.call("deleteStoragePool", id=nfs["id"]))["success"] is True
    assert not await admin.list("listStoragePools", "storagepool", id=nfs["id"])


@pytest.mark.parametrize(
    ("params", "word"),
    [
        ({"url": "ftp://x/y"}, "url"),
        ({"url": "nfs:///export"}, "url"),
        ({"url": "nfs://host/a/../b"}, "url"),
        ({"scope": "REGION"}, "scope"),
        ({"clusterid": None}, "clusterid"),
        ({"capacitybytes": -1}, "capacitybytes"),
    ],
)
async def test_pool_bad_input(app: VirgaApp, admin: VirgaClient, cloud: Cloud, params: dict, word: str) -> None:
    base = {
        "zoneid": cloud.zone,
        "podid": cloud.pod,
        "clusterid": cloud.cluster,
        "name": "bad",
        "url": "nfs://10.0.0.9/p",
    }
    err = await _code(admin.call("createStoragePool", **{**base, **params}))
    assert err.code == 431 and word in err.text
    with app.db.session() as s:
        assert s.exec(select(StoragePool).where(StoragePool.name == "bad")).first() is None


async def test_zone_pool_needs_hypervisor(admin: VirgaClient, cloud: Cloud) -> None:
    err = await _code(admin.call("createStoragePool", zoneid=cloud.zone, name="z", url="/srv/p", scope="ZONE"))
    assert err.code == 431 and "hypervisor" in err.text


async def test_delete_pool_with_volumes_is_refused(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    with app.db.session() as s:
        pool = s.exec(select(StoragePool).where(StoragePool.uuid == cloud.pool)).one()
        s.add(
            Volume(
                name="v", zone_id=pool.zone_id, pool_id=pool.id, size=2**30, account_id=2, domain_id=1, state="Ready"
            )
        )
        s.commit()
    err = await _code(admin.call("deleteStoragePool", id=cloud.pool))
    assert err.code == 536 and "volume" in err.text
    assert await admin.list("listStoragePools", "storagepool", id=cloud.pool)


async def test_image_stores(admin: VirgaClient, cloud: Cloud) -> None:
    st = (
        await admin.call(
            "addImageStore", name="sec-2", provider="NFS", url="nfs://10.0.0.7/export/sec", zoneid=cloud.zone
        )
    )["imagestore"]
    assert st["protocol"] == "nfs" and st["providername"] == "NFS" and st["zoneid"] == cloud.zone
    alias = (await admin.call("addSecondaryStorage", url="nfs://10.0.0.8/export/sec", zoneid=cloud.zone))[
        "secondarystorage"
    ]
    assert alias["url"] == "nfs://10.0.0.8/export/sec"
    stores = await admin.list("listImageStores", "imagestore", zoneid=cloud.zone)
    assert {s["name"] for s in stores} == {"store-1", "sec-2", alias["name"]}
    for bad in ("http://x/y", "nfs://10.0.0.7:2049/x", "nfs://", "nfs://10.0.0.7/export/sec"):
        err = await _code(admin.call("addImageStore", provider="NFS", url=bad, zoneid=cloud.zone))
        assert err.code == 431 and "url" in err.text
    err = await _code(admin.call("addImageStore", provider="S3", url="nfs://1.2.3.4/x", zoneid=cloud.zone))
    assert err.code == 431 and "provider" in err.text
    assert (await admin.call("deleteImageStore", id=st["id"]))["success"] is True
    assert len(await admin.list("listImageStores", "imagestore")) == 2


async def test_image_store_outside_simulator_zone_is_probed(admin: VirgaClient) -> None:
    zone = (
        await admin.call(
            "createZone", name="kvm-zone", dns1="10.0.0.2", internaldns1="10.0.0.2", networktype="Advanced"
        )
    )["zone"]
    err = await _code(
        admin.call("addImageStore", provider="NFS", url="nfs://127.0.0.1/virga-no-such-export", zoneid=zone["id"])
    )
    assert err.code == 534 and "does not answer" in err.text
    assert await admin.list("listImageStores", "imagestore", zoneid=zone["id"]) == []


async def test_user_cannot_touch_storage(app: VirgaApp, cloud: Cloud) -> None:
    from tests.conftest import client_for
    from tests.factories import make_user

    user = await client_for(app, make_user(app, "pooluser"))
    try:
        for cmd, params in (
            ("listStoragePools", {}),
            ("listImageStores", {}),
            ("createStoragePool", {"zoneid": cloud.zone, "name": "x", "url": "/x"}),
            ("deleteStoragePool", {"id": cloud.pool}),
        ):
            err = await _code(user.call(cmd, **params))
            assert err.code == 432
    finally:
        await user.close()
