"""Primary pools (local directories): template cache, snapshot backup/restore, volume migration."""

from __future__ import annotations

import asyncio
import fcntl
import os
import uuid as uuidlib
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import StorageError, StoreFileExists, StoreFileNotFound, VerifyFailed
from .hostexec import LOCAL, Executor, HostCannotReachStore, SshHost, image_info, probe_store
from .imagestore import ImageStore, temp_name
from .layout import normalize
from .staging import staging_root
from .tools import qemu_img_compare, qemu_img_convert, qemu_img_info, run


@dataclass(frozen=True)
class BackupInfo:
    """A snapshot backup now on the image store (copied: where the copy ran, e.g. "on host h over SSH")."""

    path: str
    url: str
    size: int
    virtual_size: int
    copied: str = LOCAL.where


def convert_argv(
    src: str, dst: str, src_fmt: str, dst_fmt: str = "qcow2", *, snapshot: str | None = None, force_share: bool = False
) -> list[str]:
    """The one `qemu-img convert` command line of backups and restores, local or on a KVM host (pure)."""
    argv = ["qemu-img", "convert", "-f", src_fmt, "-O", dst_fmt]
    if snapshot:
        argv += ["-l", f"snapshot.name={snapshot}"]
    if force_share:
        argv += ["-U"]
    return [*argv, src, dst]


def _local_tmp(dest: Path) -> Path:
    """A temp file beside dest (same filesystem, so the final rename is atomic)."""
    return dest.with_name(f".{dest.name}.part-{uuidlib.uuid4().hex[:8]}")


def _unlink(path: Path) -> None:
    """Remove a file if it is there."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass


async def _flock(path: Path) -> int:
    """Take an exclusive lock file (cross-process and cross-task), polling so the wait stays cancellable."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            await asyncio.sleep(0.05)
        except BaseException:
            os.close(fd)
            raise


async def _convert_local(src: str, dest: Path, src_fmt: str, dst_fmt: str = "qcow2", on: Executor = LOCAL) -> None:
    """qemu-img convert (where `on` says) into a temp file beside dest, then rename it into place."""
    tmp = str(_local_tmp(dest))
    try:
        await on.run(*convert_argv(src, tmp, src_fmt, dst_fmt))
        await on.rename(tmp, str(dest))
    finally:
        await asyncio.shield(on.remove(tmp))


async def ensure_on_primary(store: ImageStore, template_path: str, pool_dir: str | os.PathLike[str]) -> str:
    """Copy a template from the store into a pool once (qcow2 named after it); concurrent callers copy once."""
    pool = Path(pool_dir)
    if not pool.is_dir():
        raise StorageError(f"primary pool directory {pool} does not exist")
    stem = Path(normalize(template_path)).stem
    dest = pool / f"{stem}.qcow2"
    if dest.exists():
        return str(dest)
    fd = await _flock(pool / f".{stem}.lock")
    try:
        if dest.exists():
            return str(dest)
        src = store.url_for(template_path)
        if not await store.exists(template_path):
            raise StoreFileNotFound(f"template {template_path} is not on the store {store.url}")
        fmt = str((await qemu_img_info(src)).get("format", "raw"))
        await _convert_local(src, dest, fmt)
        return str(dest)
    finally:
        os.close(fd)


async def create_linked_volume(template_file: str, dest: str, size: int | None = None) -> str:
    """A new qcow2 volume backed by a template already on the pool (qemu-img create -b)."""
    if os.path.exists(dest):
        raise StoreFileExists(f"volume {dest} already exists")
    argv = ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", os.path.abspath(template_file), dest]
    await run(*argv, *([str(size)] if size else []))
    return dest


async def backup_snapshot(
    volume: str,
    store: ImageStore,
    dest_path: str,
    snapshot: str | None = None,
    *,
    overwrite: bool = False,
    force_share: bool = False,
    on: Executor = LOCAL,
) -> BackupInfo:
    """Write a qcow2 of a volume (an internal snapshot when named, else the file as is) to the store.

    `on` is where qemu-img runs: here, or the KVM host holding the file (it then writes to the store itself).
    force_share (qemu-img -U) reads an image a running guest holds open: only safe for a snapshot name or a
    point-in-time file the guest no longer writes.
    """
    if not await on.exists(volume):
        raise StorageError(f"volume {volume} does not exist {on.where}")
    rel = normalize(dest_path)
    if not overwrite and await store.exists(rel):
        raise StoreFileExists(f"{rel} already exists on the store")
    try:
        await probe_store(on, store.url)
    except HostCannotReachStore:
        if not isinstance(on, SshHost):
            raise
        return await _backup_streamed(on, volume, store, rel, snapshot, force_share, overwrite)
    await store.makedirs(rel.rpartition("/")[0])
    tmp = temp_name("/" + rel).lstrip("/")
    fmt = str((await image_info(on, volume, force_share=force_share)).get("format", "raw"))
    try:
        await on.run(*convert_argv(volume, store.url_for(tmp), fmt, snapshot=snapshot, force_share=force_share))
        await store.rename(tmp, rel)
    except BaseException:
        await asyncio.shield(store.delete(tmp, missing_ok=True))
        raise
    info = await qemu_img_info(store.url_for(rel), "qcow2")
    return BackupInfo(rel, store.url_for(rel), int(info.get("actual-size") or 0), int(info["virtual-size"]), on.where)


async def _backup_streamed(
    on: SshHost, volume: str, store: ImageStore, rel: str, snapshot: str | None, force_share: bool, overwrite: bool
) -> BackupInfo:
    """A host that cannot reach the store: stream the file here over SSH, then back it up from here.

    Only a standalone image can travel alone: a file with a backing chain is refused with a clear error.
    """
    info = await image_info(on, volume, force_share=force_share)
    if info.get("backing-filename"):
        raise HostCannotReachStore(
            f"host {on.address} cannot reach the image store {store.url} and {volume} "
            f"has a backing file, so it cannot be streamed here alone"
        )
    local = staging_root(None) / f"stream-{uuidlib.uuid4().hex}.img"
    try:
        await on.fetch(volume, str(local))
        got = await backup_snapshot(str(local), store, rel, snapshot, overwrite=overwrite)
    finally:
        local.unlink(missing_ok=True)
    return replace(got, copied=f"streamed from host {on.address} over SSH (it cannot reach the store)")


async def restore_snapshot(store: ImageStore, backup_path: str, dest: str | os.PathLike[str]) -> str:
    """Create a standalone qcow2 volume at dest from a backup on the store."""
    target = Path(dest)
    if target.exists():
        raise StoreFileExists(f"volume {target} already exists")
    if not await store.exists(backup_path):
        raise StoreFileNotFound(f"backup {backup_path} is not on the store {store.url}")
    await _convert_local(store.url_for(backup_path), target, "qcow2")
    return str(target)


async def migrate_volume(volume: str, dest_pool: str | os.PathLike[str], *, remove_source: bool = True) -> str:
    """Move a volume to another directory pool (flattened qcow2), verified with qemu-img compare first."""
    src, pool = Path(volume), Path(dest_pool)
    if not src.exists():
        raise StorageError(f"volume {src} does not exist")
    if not pool.is_dir():
        raise StorageError(f"primary pool directory {pool} does not exist")
    dest = pool / f"{src.stem}.qcow2"
    if dest.exists():
        raise StoreFileExists(f"volume {dest} already exists in the destination pool")
    fmt = str((await qemu_img_info(str(src))).get("format", "raw"))
    tmp = _local_tmp(dest)
    try:
        await qemu_img_convert(str(src), str(tmp), fmt, "qcow2")
        if not await qemu_img_compare(str(src), str(tmp), fmt, "qcow2"):
            raise VerifyFailed(f"copy of {src} to {pool} differs from the source; source kept")
        os.replace(tmp, dest)
    finally:
        _unlink(tmp)
    if remove_source:
        src.unlink()
    return str(dest)


async def restore_over(
    store: ImageStore, backup_path: str, volume: str | os.PathLike[str], on: Executor = LOCAL
) -> str:
    """Replace a (stopped) volume's file with a backup's content: written beside it, then renamed over it.

    `on` is where the volume is: here, or a KVM host that reads the backup from the store itself.
    """
    target = Path(volume)
    if not await on.exists(str(target)):
        raise StoreFileNotFound(f"volume {target} does not exist {on.where}")
    if not await store.exists(backup_path):
        raise StoreFileNotFound(f"backup {backup_path} is not on the store {store.url}")
    await probe_store(on, store.url)
    await _convert_local(store.url_for(backup_path), target, "qcow2", on=on)
    return str(target)


async def copy_on_store(store: ImageStore, src_path: str, dest_path: str, dst_fmt: str = "qcow2") -> BackupInfo:
    """Copy an image within the store (e.g. a snapshot backup into a template) under a temp name, then rename."""
    rel = normalize(dest_path)
    if await store.exists(rel):
        raise StoreFileExists(f"{rel} already exists on the store")
    if not await store.exists(src_path):
        raise StoreFileNotFound(f"{src_path} is not on the store {store.url}")
    await store.makedirs(rel.rpartition("/")[0])
    tmp = temp_name("/" + rel).lstrip("/")
    try:
        await qemu_img_convert(store.url_for(src_path), store.url_for(tmp), "qcow2", dst_fmt)
        await store.rename(tmp, rel)
    except BaseException:
        await asyncio.shield(store.delete(tmp, missing_ok=True))
        raise
    info = await qemu_img_info(store.url_for(rel), dst_fmt)
    return BackupInfo(rel, store.url_for(rel), int(info.get("actual-size") or 0), int(info["virtual-size"]))
