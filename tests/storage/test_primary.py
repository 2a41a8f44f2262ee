"""Snapshot backup/restore through the NFS store, linked volumes and volume migration between pools."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from virga.appliance.storage import StoreFileExists, StoreFileNotFound
from virga.appliance.storage.layout import snapshot_path
from virga.appliance.storage.primary import (
    backup_snapshot,
    create_linked_volume,
    migrate_volume,
    restore_snapshot,
)
from virga.appliance.storage.tools import qemu_img_compare

from tests.storage.conftest import NfsFixture, make_qcow2

pytestmark = pytest.mark.integration


def qemu_io(path: Path, cmd: str) -> str:
    """Run one qemu-io command on a qcow2; return its output (raises on failure)."""
    out = subprocess.run(["qemu-io", "-f", "qcow2", "-c", cmd, str(path)], capture_output=True, text=True, check=True)
    return out.stdout


async def test_backup_and_restore(nfs: NfsFixture, tmp_path: Path) -> None:
    vol = make_qcow2(tmp_path / "vol.qcow2", "32M", 0x11, "2M")
    dest = snapshot_path(2, 9, str(uuid.uuid4()))
    info = await backup_snapshot(str(vol), nfs.store, dest)
    assert info.virtual_size == 32 << 20 and await nfs.store.exists(dest)
    with pytest.raises(StoreFileExists):
        await backup_snapshot(str(vol), nfs.store, dest)
    restored = await restore_snapshot(nfs.store, dest, tmp_path / "restored.qcow2")
    assert await qemu_img_compare(str(vol), restored, "qcow2", "qcow2")
    assert await qemu_img_compare(str(vol), info.url, "qcow2", "qcow2")
    assert not list(nfs.export.rglob("*.part-*"))


async def test_backup_of_internal_snapshot(nfs: NfsFixture, tmp_path: Path) -> None:
    vol = make_qcow2(tmp_path / "v.qcow2", "16M", 0x22, "1M")
    subprocess.run(["qemu-img", "snapshot", "-c", "s1", str(vol)], check=True)
    qemu_io(vol, "write -P 0x44 0 1M")
    dest = snapshot_path(2, 10, str(uuid.uuid4()))
    await backup_snapshot(str(vol), nfs.store, dest, snapshot="s1")
    restored = Path(await restore_snapshot(nfs.store, dest, tmp_path / "r.qcow2"))
    assert "Pattern verification failed" not in qemu_io(restored, "read -P 0x22 0 1M")
    assert not await qemu_img_compare(str(vol), str(restored), "qcow2", "qcow2")


async def test_restore_missing_backup(nfs: NfsFixture, tmp_path: Path) -> None:
    with pytest.raises(StoreFileNotFound):
        await restore_snapshot(nfs.store, snapshot_path(2, 1, "nope"), tmp_path / "x.qcow2")
    assert not (tmp_path / "x.qcow2").exists()


async def test_linked_volume_and_migration(tmp_path: Path) -> None:
    pool_a, pool_b = tmp_path / "a", tmp_path / "b"
    pool_a.mkdir()
    pool_b.mkdir()
    tmpl = make_qcow2(pool_a / "tmpl.qcow2", "16M", 0x61, "1M")
    vol = Path(await create_linked_volume(str(tmpl), str(pool_a / "vol.qcow2")))
    qemu_io(vol, "write -P 0x62 4M 1M")
    reference = tmp_path / "ref.qcow2"
    shutil.copy(vol, reference)
    moved = await migrate_volume(str(vol), pool_b)
    assert not vol.exists() and Path(moved).parent == pool_b
    assert await qemu_img_compare(str(reference), moved, "qcow2", "qcow2")
    assert await qemu_img_compare(str(tmpl), moved, "qcow2", "qcow2") is False
    out = qemu_io(Path(moved), "read -P 0x62 4M 1M") + qemu_io(Path(moved), "read -P 0x61 0 1M")
    assert "Pattern verification failed" not in out
    info = subprocess.run(["qemu-img", "info", moved], capture_output=True, text=True, check=True).stdout
    assert "backing file" not in info
    assert [p.name for p in pool_b.iterdir()] == ["vol.qcow2"]
