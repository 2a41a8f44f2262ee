"""Volume snapshots backed up to a real NFS store (ganesha) from a real libvirt pool, through the API."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlmodel import select
from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.models import Snapshot, Template, Volume

from tests.storage.conftest import NfsFixture
from tests.storage.kvmzone import build, data_volume, holds, write

pytestmark = [pytest.mark.integration]


def _row(app: VirgaApp, model: type, uuid: str):  # noqa: ANN202
    """A row by uuid."""
    with app.db.session() as s:
        return s.exec(select(model).where(model.uuid == uuid)).one()


async def test_snapshot_backup_revert_volume_template_delete(
    app: VirgaApp,
    admin: VirgaClient,
    nfs: NfsFixture,
    kvm_pool: tuple[str, Path],
) -> None:
    kz = build(app, nfs.url, *kvm_pool)
    vol_id = data_volume(app, kz, "data-1")
    path = _row(app, Volume, vol_id).path
    write(path, 0x11)

    snap = (await admin.run("createSnapshot", volumeid=vol_id))["snapshot"]
    assert snap["state"] == "BackedUp" and snap["locationtype"] == "SECONDARY"
    row = _row(app, Snapshot, snap["id"])
    assert row.backup_path.startswith(nfs.url + "/snapshots/")
    rel = row.backup_path.removeprefix(nfs.url + "/")
    assert (nfs.export / rel).is_file()
    assert holds(row.backup_path, 0x11)  # read back through libnfs

    # revert from the backup alone: the primary copy is gone (pool lost it)
    write(path, 0x22)
    os.unlink(row.path)
    await admin.run("revertSnapshot", id=snap["id"])
    assert holds(path, 0x11)

    # a new volume and a template made from the snapshot both use the backup
    new_vol = (await admin.run("createVolume", snapshotid=snap["id"], name="from-snap", zoneid=kz.zone))["volume"]
    assert new_vol["state"] == "Ready" and holds(_row(app, Volume, new_vol["id"]).path, 0x11)
    ostype = (await admin.list("listOsTypes", "ostype"))[0]["id"]
    tmpl = (await admin.run("createTemplate", snapshotid=snap["id"], name="t-snap", ostypeid=ostype))["template"]
    install = _row(app, Template, tmpl["id"]).install_path
    assert tmpl["isready"] and install.startswith(nfs.url + "/template/tmpl/") and holds(install, 0x11)

    # the template is a store copy, so the snapshot may go; its backup goes with it
    await admin.run("deleteSnapshot", id=snap["id"])
    assert not (nfs.export / rel).exists()
    assert (nfs.export / install.removeprefix(nfs.url + "/")).is_file()


async def test_primary_only_and_template_from_volume(
    app: VirgaApp,
    admin: VirgaClient,
    nfs: NfsFixture,
    kvm_pool: tuple[str, Path],
) -> None:
    kz = build(app, nfs.url, *kvm_pool)
    vol_id = data_volume(app, kz, "data-2")
    write(_row(app, Volume, vol_id).path, 0x33)
    snap = (await admin.run("createSnapshot", volumeid=vol_id, locationtype="PRIMARY"))["snapshot"]
    row = _row(app, Snapshot, snap["id"])
    assert snap["state"] == "BackedUp" and row.backup_path == "" and snap["locationtype"] == "PRIMARY"
    events = await admin.list("listEvents", "event", type="SNAPSHOT.BACKUP")
    assert any("locationtype PRIMARY" in e["description"] for e in events)
    await admin.run("deleteSnapshot", id=snap["id"])
    assert not os.path.exists(row.path)


async def test_failed_backup_leaves_nothing(
    app: VirgaApp,
    admin: VirgaClient,
    nfs: NfsFixture,
    kvm_pool: tuple[str, Path],
) -> None:
    kz = build(app, nfs.url, *kvm_pool)
    vol_id = data_volume(app, kz, "data-3")
    with app.db.session() as s:  # point the store at an export that does not exist
        from virga.models import ImageStore

        st = s.exec(select(ImageStore).where(ImageStore.zone_id == kz.zone_id)).one()
        st.url = nfs.url + "-missing"
        s.add(st)
        s.commit()
    before = set(os.listdir(kz.pool_path))
    from virga.client import ApiError

    with pytest.raises(ApiError) as err:
        await admin.run("createSnapshot", volumeid=vol_id)
    assert "image store" in err.value.text
    assert set(os.listdir(kz.pool_path)) == before
    snaps = await admin.list("listSnapshots", "snapshot", volumeid=vol_id)
    assert all(sn["state"] == "Error" for sn in snaps)
