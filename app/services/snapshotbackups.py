"""Snapshot backups on secondary storage: which snapshots are copied to the image store, and the copy steps.

A snapshot is backed up (a standalone qcow2 under snapshots/<account>/<volume>/<uuid>.qcow2) when the zone
has an NFS image store and the driver left it as a file either on this management server or on a KVM host
reached over SSH (qemu+ssh://): there qemu-img runs on the host itself and writes to the store through libnfs
(hostexec.py), so the data never passes through the management server. Otherwise it stays on primary storage
only and an event says why (e.g. the simulator keeps its disks in memory). Nothing here pretends a backup exists.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from sqlmodel import Session, col, select
from virga.errors import InternalError, Unavailable
from virga.models import Host, ImageStore, Snapshot, Volume
from virga.services import transfers

if TYPE_CHECKING:
    from virga.appliance.storage.hostexec import Executor, SshHost
    from virga.appliance.storage.primary import BackupInfo

T = TypeVar("T")
ON_PRIMARY = "PRIMARY"
ON_SECONDARY = "SECONDARY"


@dataclass(frozen=True)
class BackupPlan:
    """Where a snapshot file goes on the image store; via: the KVM host holding it when it is not here."""

    source: str
    store_url: str
    dest: str
    via: SshHost | None = None


def remote_host(host: Host) -> SshHost | None:
    """The SSH side of a host reached over qemu+ssh:// (None for a host on this server or reached otherwise)."""
    from virga.appliance.storage.hostexec import SshHost

    return SshHost.from_url(host.url, host.password)


def zone_store(s: Session, zone_id: int) -> ImageStore | None:
    """The writable NFS image store of a zone (or a region-wide one)."""
    stmt = select(ImageStore).where(
        ImageStore.removed == None,
        ImageStore.readonly == False,  # noqa:E712
        (ImageStore.zone_id == zone_id) | (ImageStore.zone_id == None),
    )
    return next((st for st in s.exec(stmt.order_by(col(ImageStore.id))) if st.url.startswith("nfs://")), None)


def store_for_file(s: Session, zone_id: int, host: Host, path: str) -> ImageStore | str:
    """The image store a host's snapshot file can be copied to, or the reason it cannot."""
    backend = transfers.for_hypervisor(host.hypervisor)
    if not backend.files:
        return f"{backend.why_no_files}: there is no snapshot file to copy"
    if not path or (remote_host(host) is None and not os.path.isfile(path)):
        return (
            f"the snapshot file {path or '(none)'} is neither on this management server nor on a KVM host "
            f"reached over SSH"
        )
    store = zone_store(s, zone_id)
    return "the zone has no NFS image store" if store is None else store


def plan(
    s: Session,
    snap: Snapshot,
    vol: Volume,
    host: Host,
    path: str,
    *,
    primary_only: bool = False,
) -> BackupPlan | str:
    """A backup plan for a snapshot the driver just took, or the reason it stays on primary storage."""
    from virga.appliance.storage.layout import snapshot_path

    if primary_only:
        return "the caller asked for locationtype PRIMARY"
    store = store_for_file(s, snap.zone_id, host, path)
    if isinstance(store, str):
        return store
    return BackupPlan(path, store.url, snapshot_path(vol.account_id, vol.id, snap.uuid), remote_host(host))


def _store(url: str):  # noqa: ANN202 - the storage type is imported lazily
    """An appliance ImageStore for an nfs:// URL."""
    from virga.appliance.storage import ImageStore as NfsStore

    return NfsStore(url)


def split(backup_url: str) -> tuple[str, str]:
    """(store URL, store-relative path) of a backup URL recorded on a snapshot."""
    from virga.appliance.storage.imagestore import parse_nfs_url

    host, export_and_path = parse_nfs_url(backup_url)
    for marker in ("/snapshots/", "/template/tmpl/"):
        export, found, rel = export_and_path.rpartition(marker)
        if found:
            return f"nfs://{host}{export}", marker.lstrip("/") + rel
    raise InternalError(f"{backup_url} is not a snapshot or template path on an image store")


async def _on_host(via: SshHost | None, what: str, work: Callable[[Executor], Awaitable[T]]) -> T:
    """Run work(executor) where the file is; typed storage errors become API errors (534 for what is missing)."""
    from virga.appliance.storage import StorageError
    from virga.appliance.storage.hostexec import LOCAL, HostCannotReachStore, HostToolMissing, HostUnreachable

    try:
        if via is None:
            return await work(LOCAL)
        async with via as on:
            return await work(on)
    except (HostToolMissing, HostCannotReachStore, HostUnreachable) as exc:
        raise Unavailable(f"{what} failed: {exc}") from None
    except StorageError as exc:
        raise InternalError(f"{what} failed: {exc}") from None


async def run_backup(p: BackupPlan) -> BackupInfo:
    """Copy the snapshot file to the store as qcow2 (atomic: temp name then rename), on its host when remote."""
    from virga.appliance.storage.primary import backup_snapshot

    return await _on_host(
        p.via,
        f"Backing up the snapshot to the image store {p.store_url}",
        lambda on: backup_snapshot(p.source, _store(p.store_url), p.dest, on=on),
    )


async def drop_backup(backup_url: str) -> None:
    """Remove a snapshot's backup from the store (already gone is fine)."""
    from virga.appliance.storage import StorageError

    store_url, rel = split(backup_url)
    try:
        await _store(store_url).delete(rel, missing_ok=True)
    except StorageError as exc:
        raise InternalError(f"Deleting the snapshot backup {backup_url} failed: {exc}") from None


async def restore_into(backup_url: str, volume_path: str, via: SshHost | None = None) -> None:
    """Overwrite a stopped volume's file (here, or on its KVM host over SSH) with a backup's content."""
    from virga.appliance.storage.primary import restore_over

    store_url, rel = split(backup_url)
    await _on_host(
        via,
        f"Restoring {volume_path} from the backup {backup_url}",
        lambda on: restore_over(_store(store_url), rel, volume_path, on=on),
    )


async def template_from_backup(backup_url: str, dest: str) -> BackupInfo:
    """Copy a snapshot backup into a template path on the same store."""
    from virga.appliance.storage import StorageError
    from virga.appliance.storage.primary import copy_on_store

    store_url, rel = split(backup_url)
    try:
        return await copy_on_store(_store(store_url), rel, dest)
    except StorageError as exc:
        raise InternalError(f"Copying the snapshot backup {backup_url} into a template failed: {exc}") from None


async def template_from_file(source: str, store_url: str, dest: str, via: SshHost | None = None) -> BackupInfo:
    """Copy a snapshot (or stopped volume) file, here or on its KVM host, into a template path on the store."""
    return await run_backup(BackupPlan(source, store_url, dest, via))


def primary_gone(snap: Snapshot) -> bool:
    """Whether a backed-up snapshot's copy on primary storage is gone (deleted or its pool lost), seen from here."""
    return bool(snap.backup_path) and not os.path.exists(snap.path)


async def primary_gone_on(host: Host, snap: Snapshot) -> bool:
    """primary_gone, asked of the KVM host holding the file when it is reached over SSH."""
    via = remote_host(host)
    if via is None or not snap.backup_path:
        return primary_gone(snap)
    return not await _on_host(via, f"Looking for the snapshot file {snap.path}", lambda on: on.exists(snap.path))


def source_url(snap: Snapshot) -> str:
    """What a volume or template is made from: the primary copy while it is there, else the backup."""
    return snap.backup_path if primary_gone(snap) else snap.path
