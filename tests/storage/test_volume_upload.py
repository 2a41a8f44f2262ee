"""Volume upload (getUploadParamsForVolume + signed POST) -> attach to a libvirt VM (copy to primary) -> detach
-> extractVolume -> deleteVolume; failures, limits, isolation and the simulator's refusal.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
from sqlmodel import select
from virga.cli.template import upload
from virga.client import ApiError, VirgaClient
from virga.core import VirgaApp
from virga.models import StoragePool, Volume, Zone

from tests.conftest import client_for
from tests.factories import Cloud, make_user
from tests.libvirt.apizone import kvm_site
from tests.storage.conftest import NfsFixture, make_qcow2
from tests.storage.kvmzone import holds
from tests.storage.test_iso_upload import _download
from tests.storage.test_template_api import _cleanup, _nfs_store_for
from tests.storage.test_transfers import _post

pytestmark = [pytest.mark.integration]


def _raw(path: Path, pattern: int) -> Path:
    """A 4 MiB raw disk whose first MiB is the pattern."""
    path.write_bytes(bytes([pattern]) * (1 << 20) + bytes(3 << 20))
    return path


def _row(app: VirgaApp, uuid: str) -> Volume:
    """The volume row (path, store_url, pool) as the database has it."""
    with app.db.session() as s:
        return s.exec(select(Volume).where(Volume.uuid == uuid)).one()


def _xml(vm_id: str) -> str:
    """The persistent libvirt XML of a domain."""
    return subprocess.run(
        ["virsh", "-c", "qemu:///system", "dumpxml", "--inactive", vm_id], capture_output=True, text=True, check=True
    ).stdout


def _same_content(a: Path, b: Path) -> bool:
    """Whether two images hold the same guest-visible data (qemu-img compare)."""
    return subprocess.run(["qemu-img", "compare", str(a), str(b)], capture_output=True).returncode == 0


@pytest.mark.slow
async def test_upload_attach_extract_delete(  # noqa: PLR0913, PLR0915
    app: VirgaApp,
    admin: VirgaClient,
    cloud: Cloud,
    nfs: NfsFixture,
    guest_image: Path,
    kvm_pool: tuple[str, Path],
    tmp_path: Path,
) -> None:
    pool_dir = kvm_pool[1]
    site = await kvm_site(app, admin, cloud, guest_image, pool_dir)
    vm_id: str | None = None
    try:
        await _nfs_store_for(admin, cloud.zone, nfs.url)
        img = make_qcow2(tmp_path / "data.qcow2", pattern=0x5C)
        vol = await upload(admin, str(img), {"zoneid": cloud.zone, "name": "up-qcow2"}, quiet=True, kind="volume")
        assert vol["state"] == "Uploaded" and vol["size"] == 16 << 20, vol
        stored = list(nfs.export.glob(f"volumes/*/*/{vol['id']}.qcow2"))
        assert len(stored) == 1 and stored[0].read_bytes() == img.read_bytes()

        # extract while still on the image store: the very bytes that were uploaded
        res = (await admin.run("extractVolume", id=vol["id"], mode="HTTP_DOWNLOAD", zoneid=cloud.zone))["volume"]
        assert res["extractMode"] == "HTTP_DOWNLOAD" and res["state"] == "DOWNLOAD_URL_CREATED"
        status, body = await _download(admin, res["url"])
        assert status == 200 and hashlib.sha256(body).digest() == hashlib.sha256(img.read_bytes()).digest()
        assert (await _download(admin, res["url"][:-4] + "0000"))[0] == 531

        raw = await upload(
            admin,
            str(_raw(tmp_path / "data.img", 0x3A)),
            {"zoneid": cloud.zone, "name": "up-raw"},
            quiet=True,
            kind="volume",
        )
        assert raw["state"] == "Uploaded" and raw["size"] == 4 << 20

        vm = await admin.run(
            "deployVirtualMachine",
            zoneid=cloud.zone,
            templateid=site.template,
            hostid=site.host,
            serviceofferingid=site.offering,
            networkids=site.network,
            name="vol-up-guest",
        )
        vm_id = vm["virtualmachine"]["id"]
        await admin.run("stopVirtualMachine", id=vm_id, forced=True)

        for v, pattern in ((vol, 0x5C), (raw, 0x3A)):
            att = (await admin.run("attachVolume", id=v["id"], virtualmachineid=vm_id))["volume"]
            assert att["state"] == "Ready" and att["virtualmachineid"] == vm_id and att["storage"], att
            row = _row(app, v["id"])
            assert Path(row.path).parent == pool_dir and row.format == "QCOW2" and row.store_url == ""
            assert holds(row.path, pattern) and row.path in _xml(vm_id)
            assert not list(nfs.export.glob(f"volumes/*/*/{v['id']}.*"))  # the upload left the image store
        assert not list(pool_dir.glob(".*.lock"))

        # a Ready volume of a stopped VM: copied to the image store, served by the same route
        res = (await admin.run("extractVolume", id=vol["id"], mode="HTTP_DOWNLOAD"))["volume"]
        status, body = await _download(admin, res["url"])
        (tmp_path / "extracted.qcow2").write_bytes(body)
        assert status == 200 and _same_content(tmp_path / "extracted.qcow2", img)

        for v in (vol, raw):
            path = _row(app, v["id"]).path
            det = (await admin.run("detachVolume", id=v["id"]))["volume"]
            assert det["state"] == "Ready" and "virtualmachineid" not in det and path not in _xml(vm_id)
            assert (await admin.call("deleteVolume", id=v["id"]))["success"]
            assert not Path(path).exists()
        assert not list(nfs.export.glob("volumes/*/*/*")) and not list(nfs.export.rglob(".*part-*"))
        assert not await admin.list("listVolumes", "volume", ids=f"{vol['id']},{raw['id']}")

        await admin.run("destroyVirtualMachine", id=vm_id, expunge=True)
        vm_id = None
    finally:
        await _cleanup(admin, vm_id, site.bridge)


async def test_bad_uploads_limits_isolation(
    app: VirgaApp, admin: VirgaClient, cloud: Cloud, nfs: NfsFixture, tmp_path: Path
) -> None:
    from virga.models import Cluster

    with app.db.session() as s:  # the zone becomes a KVM zone (database only) holding the ganesha export
        zone = s.exec(select(Zone).where(Zone.uuid == cloud.zone)).one()
        for cl in s.exec(select(Cluster).where(Cluster.zone_id == zone.id)):
            cl.hypervisor = "KVM"
            s.add(cl)
        s.commit()
    await _nfs_store_for(admin, cloud.zone, nfs.url)

    up = await admin.call("getUploadParamsForVolume", name="text", format="QCOW2", zoneid=cloud.zone)
    up = up["getuploadparams"]
    resp = await _post(admin, up, b"not a disk image\n" * 500)
    assert resp.status_code == 431 and "qcow2" in resp.json()["errortext"]
    (v,) = await admin.list("listVolumes", "volume", id=up["id"])
    assert v["state"] == "UploadError"
    events = await admin.list("listEvents", "event", type="VOLUME.UPLOAD")
    assert any("failed" in e["description"] and e["level"] == "ERROR" for e in events), events
    assert not list(nfs.export.glob(f"volumes/*/*/{up['id']}*")) and not list(nfs.export.rglob(".*part-*"))
    with pytest.raises(ApiError) as err:
        await admin.run("extractVolume", id=up["id"], mode="HTTP_DOWNLOAD")
    assert err.value.code == 431
    assert (await admin.call("deleteVolume", id=up["id"]))["success"]

    with pytest.raises(ApiError) as err:
        await admin.call("getUploadParamsForVolume", name="x", format="VHD", zoneid=cloud.zone)
    assert err.value.code == 431
    with pytest.raises(ApiError) as err:
        await admin.call("getUploadParamsForVolume", name="x", format="QCOW2", zoneid=cloud.zone, checksum="{MD5}zz")
    assert err.value.code == 431

    img = make_qcow2(tmp_path / "mine.qcow2")
    mine = await upload(admin, str(img), {"zoneid": cloud.zone, "name": "mine"}, quiet=True, kind="volume")
    bob = await client_for(app, make_user(app, "bob-vol"))
    try:
        with pytest.raises(ApiError) as err:
            await bob.run("extractVolume", id=mine["id"], mode="HTTP_DOWNLOAD")
        assert err.value.code == 431  # not even visible to another account
        with pytest.raises(ApiError) as err:
            await bob.call("deleteVolume", id=mine["id"])
        assert err.value.code == 431
        await admin.call("updateResourceLimit", resourcetype=11, max=0, account="bob-vol", domainid=_root(app))
        own = await bob.call("getUploadParamsForVolume", name="b", format="QCOW2", zoneid=cloud.zone)
        resp = await _post(bob, own["getuploadparams"], img.read_bytes())
        assert resp.status_code == 532 and "secondary_storage" in resp.json()["errortext"]
        await admin.call("updateResourceLimit", resourcetype=2, max=1, account="bob-vol", domainid=_root(app))
        with pytest.raises(ApiError) as err:
            await bob.call("getUploadParamsForVolume", name="c", format="QCOW2", zoneid=cloud.zone)
        assert err.value.code == 532
    finally:
        await bob.close()
    assert _row(app, mine["id"]).store_url  # still there, untouched
    assert (await admin.call("deleteVolume", id=mine["id"]))["success"]
    assert not list(nfs.export.glob(f"volumes/*/*/{mine['id']}*"))


def _root(app: VirgaApp) -> str:
    """The ROOT domain's uuid."""
    from virga.models import Domain

    with app.db.session() as s:
        return s.exec(select(Domain).where(Domain.path == "/")).one().uuid


async def test_simulator_refuses(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    with pytest.raises(ApiError) as err:
        await admin.call("getUploadParamsForVolume", name="x", format="QCOW2", zoneid=cloud.zone)
    assert err.value.code == 431 and "simulator" in err.value.text
    with app.db.session() as s:  # a Ready simulator disk
        pool = s.exec(select(StoragePool).where(StoragePool.uuid == cloud.pool)).one()
        vol = Volume(
            name="simdisk",
            zone_id=pool.zone_id,
            pool_id=pool.id,
            size=1 << 30,
            state="Ready",
            path="sim://disk",
            account_id=1,
            domain_id=1,
        )
        s.add(vol)
        s.commit()
        uuid = vol.uuid
    with pytest.raises(ApiError) as err:
        await admin.run("extractVolume", id=uuid, mode="HTTP_DOWNLOAD")
    assert err.value.code == 432 and "simulator" in err.value.text
