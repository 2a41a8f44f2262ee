"""Snapshot backup from a KVM host reached over SSH (qemu+ssh://): qemu-img runs on the host, writing to ganesha.

The "remote" host is this machine behind a loopback sshd (as in tests/libvirt/test_remote.py), so every test
also proves the copy ran over SSH (the executor's calls, the SNAPSHOT.BACKUP event), not only that a file
appeared on the store.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select
from virga.appliance.storage import hostexec
from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.errors import Unavailable
from virga.models import Host, ServiceOffering, Snapshot, Template, VirtualMachine, Volume
from virga.services import snapshotbackups

from tests.libvirt.test_remote import _sshd, sshd, sshd_no_libvirt  # noqa: F401  (fixtures)
from tests.storage.conftest import NfsFixture, make_qcow2
from tests.storage.kvmzone import KvmZone, build, data_volume, holds, write
from tests.storage.netns import NetnsLink
from tests.support import need

pytestmark = [pytest.mark.integration]
QEMU_MODULES = Path("/usr/lib/x86_64-linux-gnu/qemu")


def _row(app: VirgaApp, model: Any, uuid: str) -> Any:
    """A row by uuid."""
    with app.db.session() as s:
        return s.exec(select(model).where(model.uuid == uuid)).one()


class Calls:
    """Commands run through the local and the SSH executors."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.local: list[tuple[str, ...]] = []
        self.remote: list[tuple[str, ...]] = []
        real_local, real_remote = hostexec.Local.run, hostexec.SshHost.run

        async def local(ex: hostexec.Local, *argv: str) -> str:
            self.local.append(argv)
            return await real_local(ex, *argv)

        async def remote(ex: hostexec.SshHost, *argv: str) -> str:
            self.remote.append(argv)
            return await real_remote(ex, *argv)

        monkeypatch.setattr(hostexec.Local, "run", local)
        monkeypatch.setattr(hostexec.SshHost, "run", remote)

    def converts(self, where: str) -> list[tuple[str, ...]]:
        """The qemu-img convert calls made locally or over SSH."""
        return [a for a in (self.local if where == "local" else self.remote) if a[:2] == ("qemu-img", "convert")]


async def _remote_zone(
    app: VirgaApp,
    nfs: NfsFixture,
    kvm_pool: tuple[str, Path],
    port: int,
    key: Path,
    monkeypatch: pytest.MonkeyPatch,
    keys: Path,
) -> KvmZone:
    """A KVM zone whose one host is this machine reached over the loopback sshd (qemu+ssh://)."""
    from virga.drivers.libvirt import remote

    monkeypatch.setattr(remote, "KEY_DIR", keys)
    conn = await remote.prepare_kvm_host(
        "127.0.0.1", "root", private_key=key.read_text(), port=port, pool_path=str(kvm_pool[1])
    )
    kz = build(app, nfs.url, *kvm_pool)
    with app.db.session() as s:
        host = s.exec(select(Host).where(Host.zone_id == kz.zone_id)).one()
        host.url, host.options, host.name = conn.url, dict(conn.options), "kvm-over-ssh"
        s.add(host)
        s.commit()
    return kz


def _image_info(url: str) -> dict[str, Any]:
    """qemu-img info of an nfs:// URL (read through libnfs)."""
    out = subprocess.run(["qemu-img", "info", "--output=json", url], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout))


async def test_remote_snapshot_backup_revert_delete(
    app: VirgaApp,
    admin: VirgaClient,
    nfs: NfsFixture,
    kvm_pool: tuple[str, Path],
    sshd: tuple[int, Path],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kz = await _remote_zone(app, nfs, kvm_pool, *sshd, monkeypatch, tmp_path / "keys")
    vol_id = data_volume(app, kz, "data-remote")
    path = _row(app, Volume, vol_id).path
    write(path, 0x44)
    calls = Calls(monkeypatch)

    snap = (await admin.run("createSnapshot", volumeid=vol_id))["snapshot"]
    assert snap["state"] == "BackedUp" and snap["locationtype"] == "SECONDARY"
    row = _row(app, Snapshot, snap["id"])
    assert row.backup_path.startswith(nfs.url + "/snapshots/")
    assert [a[-2] for a in calls.converts("remote")] == [row.path] and calls.converts("local") == []
    events = await admin.list("listEvents", "event", type="SNAPSHOT.BACKUP")
    assert any(row.backup_path in e["description"] and "on host 127.0.0.1 over SSH" in e["description"] for e in events)
    info = _image_info(row.backup_path)
    assert info["format"] == "qcow2" and info["virtual-size"] == 16 << 20
    assert holds(row.backup_path, 0x44)  # read back through libnfs
    rel = row.backup_path.removeprefix(nfs.url + "/")

    # the primary copy is lost: the revert reads the backup on the host, over SSH
    write(path, 0x55)
    os.unlink(row.path)
    await admin.run("revertSnapshot", id=snap["id"])
    assert holds(path, 0x44)
    assert [a[-2] for a in calls.converts("remote")][-1] == row.backup_path and calls.converts("local") == []

    # a new volume from the snapshot (primary copy gone): the driver builds it from the backup on the host
    new_vol = await admin.run("createVolume", snapshotid=snap["id"], name="from-remote-snap", zoneid=kz.zone)
    assert new_vol["volume"]["state"] == "Ready" and holds(_row(app, Volume, new_vol["volume"]["id"]).path, 0x44)

    await admin.run("deleteSnapshot", id=snap["id"])
    assert not (nfs.export / rel).exists()
    assert not list(nfs.export.rglob("*.part-*"))


async def test_remote_snapshot_delete_removes_primary_copy_and_backup(
    app: VirgaApp,
    admin: VirgaClient,
    nfs: NfsFixture,
    kvm_pool: tuple[str, Path],
    sshd: tuple[int, Path],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kz = await _remote_zone(app, nfs, kvm_pool, *sshd, monkeypatch, tmp_path / "keys")
    vol_id = data_volume(app, kz, "data-remote-2")
    write(_row(app, Volume, vol_id).path, 0x66)
    calls = Calls(monkeypatch)
    snap = (await admin.run("createSnapshot", volumeid=vol_id))["snapshot"]
    row = _row(app, Snapshot, snap["id"])
    assert os.path.exists(row.path) and calls.converts("remote") and not calls.converts("local")
    await admin.run("deleteSnapshot", id=snap["id"])
    assert not (nfs.export / row.backup_path.removeprefix(nfs.url + "/")).exists()
    assert not os.path.exists(row.path)  # the driver deleted the primary copy (the host said it was there)


async def test_remote_template_from_a_stopped_vms_root_volume(
    app: VirgaApp,
    admin: VirgaClient,
    cloud: Any,
    nfs: NfsFixture,
    kvm_pool: tuple[str, Path],
    sshd: tuple[int, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    kz = await _remote_zone(app, nfs, kvm_pool, *sshd, monkeypatch, tmp_path / "keys")
    vol_id = data_volume(app, kz, "root-remote")
    write(_row(app, Volume, vol_id).path, 0x3C)
    with app.db.session() as s:  # a stopped VM owning the volume as its ROOT disk
        vol = s.exec(select(Volume).where(Volume.uuid == vol_id)).one()
        vm = VirtualMachine(
            name="vm-remote",
            zone_id=kz.zone_id,
            state="Stopped",
            hypervisor="KVM",
            template_id=s.exec(select(Template)).first().id,  # type: ignore[union-attr]
            serviceoffering_id=s.exec(select(ServiceOffering)).first().id,  # type: ignore[union-attr]
            account_id=vol.account_id,
            domain_id=vol.domain_id,
        )
        s.add(vm)
        s.flush()
        vol.type, vol.vm_id = "ROOT", vm.id
        s.add(vol)
        s.commit()
    calls = Calls(monkeypatch)
    ostype = (await admin.list("listOsTypes", "ostype"))[0]["id"]
    tmpl = (await admin.run("createTemplate", volumeid=vol_id, name="t-remote", ostypeid=ostype))["template"]
    install = _row(app, Template, tmpl["id"]).install_path
    assert tmpl["isready"] and install.startswith(nfs.url + "/template/tmpl/") and holds(install, 0x3C)
    assert len(calls.converts("remote")) == 1 and calls.converts("local") == []
    assert not list(kz.pool_path.glob("*.snap-template-*"))  # the temporary driver snapshot is gone again


async def test_host_without_qemu_img_is_534_naming_the_package(
    nfs: NfsFixture,
    sshd_no_libvirt: tuple[int, Path],
    tmp_path: Path,  # noqa: F811
) -> None:
    port, key = sshd_no_libvirt
    src = make_qcow2(tmp_path / "snap.qcow2")
    via = hostexec.SshHost("127.0.0.1", port, "root", keyfile=str(key))
    folder = f"snapshots/2/{uuid.uuid4().hex[:8]}"
    plan = snapshotbackups.BackupPlan(str(src), nfs.url, f"{folder}/nope.qcow2", via)
    with pytest.raises(Unavailable) as err:
        await snapshotbackups.run_backup(plan)
    assert err.value.code == 534
    assert "qemu-img is not installed on host 127.0.0.1 (install the qemu-utils package)" in str(err.value)
    assert not (nfs.export / folder).exists()  # checked before anything was written


def _wrapped_sshd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, wrap: list[str], extra: str = ""
) -> Iterator[tuple[int, Path]]:
    """_sshd (tests/libvirt/test_remote.py) with its sshd command run under `wrap` + `sh -c`."""
    real = subprocess.Popen

    def popen(cmd: Any, *a: Any, **k: Any) -> Any:
        if isinstance(cmd, list) and "/usr/sbin/sshd" in cmd:
            cmd = [*wrap[:-1], f"{wrap[-1]} && exec {shlex.join(cmd)}"]
        return real(cmd, *a, **k)

    gen = _sshd(tmp_path, name, extra)
    with monkeypatch.context() as m:
        m.setattr(subprocess, "Popen", popen)
        started = next(gen)
    yield started
    next(gen, None)


@pytest.fixture
def sshd_no_nfs_driver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[int, Path]]:
    """A loopback sshd whose sessions see an empty QEMU module directory (no qemu-block-extra)."""
    need((QEMU_MODULES / "block-nfs.so").exists(), "qemu's NFS block driver as a module (apt: qemu-block-extra)")
    wrap = ["unshare", "-m", "--propagation", "private", "sh", "-c", f"mount -t tmpfs none {QEMU_MODULES}"]
    yield from _wrapped_sshd(tmp_path, monkeypatch, "nonfs", wrap)


@pytest.fixture
def sshd_off_storage_net(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bare_netns: NetnsLink
) -> Iterator[tuple[str, int, Path]]:
    """An sshd inside a namespace with no route to the NFS store: (its address, port, client key)."""
    wrap = ["ip", "netns", "exec", bare_netns.name, "sh", "-c", "true"]
    for port, key in _wrapped_sshd(tmp_path, monkeypatch, "offnet", wrap, f"ListenAddress {bare_netns.ns_addr}\n"):
        yield bare_netns.ns_addr, port, key


async def test_host_without_nfs_block_driver_is_534_naming_qemu_block_extra(
    nfs: NfsFixture,
    sshd_no_nfs_driver: tuple[int, Path],
    tmp_path: Path,
) -> None:
    port, key = sshd_no_nfs_driver
    src = make_qcow2(tmp_path / "snap.qcow2")
    via = hostexec.SshHost("127.0.0.1", port, "root", keyfile=str(key))
    folder = f"snapshots/2/{uuid.uuid4().hex[:8]}"
    with pytest.raises(Unavailable) as err:
        await snapshotbackups.run_backup(snapshotbackups.BackupPlan(str(src), nfs.url, f"{folder}/nope.qcow2", via))
    assert err.value.code == 534 and "qemu-block-extra" in str(err.value) and "127.0.0.1" in str(err.value)
    assert not (nfs.export / folder).exists()


async def test_host_off_the_storage_network_streams_the_snapshot_over_ssh(
    nfs: NfsFixture,
    sshd_off_storage_net: tuple[str, int, Path],
    tmp_path: Path,
) -> None:
    address, port, key = sshd_off_storage_net
    src = make_qcow2(tmp_path / "snap.qcow2", "32M", 0x77, "2M")
    rel = f"snapshots/2/{uuid.uuid4().hex[:8]}/streamed.qcow2"
    got = await snapshotbackups.run_backup(
        snapshotbackups.BackupPlan(str(src), nfs.url, rel, hostexec.SshHost(address, port, "root", str(key)))
    )
    assert got.copied.startswith(f"streamed from host {address} over SSH")
    assert got.virtual_size == 32 << 20 and (nfs.export / rel).is_file()
    assert holds(got.url, 0x77, "2M")
    assert not list(nfs.export.rglob("*.part-*"))
