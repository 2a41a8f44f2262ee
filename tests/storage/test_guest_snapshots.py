"""A running TCG guest's data volume: snapshot -> backup on NFS -> revert from the backup alone -> the guest
sees the old data; a template made from a ROOT snapshot backup on the store boots a new VM."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from virga.appliance.storage.layout import snapshot_path, template_path
from virga.appliance.storage.primary import backup_snapshot, copy_on_store, restore_over
from virga.drivers.base import PowerState, TemplateSpec, VolumeSpec

from tests.libvirt.test_guest import _boot, _define, _shell
from tests.storage.conftest import NfsFixture

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def _cold(driver, vid: str) -> None:  # noqa: ANN001
    """Flush the guest's writes and power it off."""
    await _shell(driver, vid, "sync; echo synced", b"synced")
    assert (await driver.stop_instance(vid, force=True)).state == PowerState.STOPPED


async def test_revert_from_backup_and_template_from_snapshot(  # noqa: PLR0913
    driver,
    pool,
    template,
    bridge,
    nfs: NfsFixture,  # noqa: ANN001
) -> None:
    spec = await _define(driver, pool, template, bridge)
    vid = spec.uuid
    await _boot(driver, vid)
    data = VolumeSpec(uuid=str(uuid.uuid4()), name="DATA", size_bytes=32 << 20, pool=pool, kind="DATADISK")
    data = replace(data, path=(await driver.prepare_volume(data, None)).path, device_id=1)
    await driver.attach_volume(vid, data)  # hot-plug on the running guest
    await _shell(driver, vid, "cat /proc/partitions", b"vdb")
    await _shell(driver, vid, "echo virga-old-data > /dev/vdb; head -c 14 /dev/vdb; echo", b"virga-old-data")
    await _cold(driver, vid)

    snap = await driver.snapshot_volume(data, "s1")
    backup = await backup_snapshot(snap.path, nfs.store, snapshot_path(1, data.uuid, str(uuid.uuid4())))
    await driver.delete_volume_snapshot(data, snap)  # from now on only the NFS backup has the old data
    assert not Path(snap.path).exists() and (nfs.export / backup.path).is_file()

    await _boot(driver, vid)
    await _shell(driver, vid, "echo virga-new-data > /dev/vdb; head -c 14 /dev/vdb; echo", b"virga-new-data")
    await _cold(driver, vid)
    await restore_over(nfs.store, backup.path, data.path)
    await _boot(driver, vid)
    await _shell(driver, vid, "head -c 14 /dev/vdb; echo", b"virga-old-data")
    await _cold(driver, vid)

    root = spec.volumes[0]
    rsnap = await driver.snapshot_volume(root, "r1")
    rback = await backup_snapshot(rsnap.path, nfs.store, snapshot_path(1, root.uuid, str(uuid.uuid4())))
    tid = str(uuid.uuid4())
    tmpl = await copy_on_store(nfs.store, rback.path, template_path(1, tid, tid, "qcow2"))
    await driver.delete_volume_snapshot(root, rsnap)
    child = await _define(driver, pool, TemplateSpec(uuid=tid, name="from-snap", url=tmpl.url), bridge)
    await _boot(driver, child.uuid)
