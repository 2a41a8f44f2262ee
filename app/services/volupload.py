"""Volume files on the image store: uploads (getUploadParamsForVolume + POST), the copy to primary storage on
first attach, and the copies extractVolume publishes.

An uploaded volume goes NotUploaded -> UploadInProgress -> Uploaded (or UploadError) while its file sits on the
NFS image store under volumes/<account>/<volume>/<uuid>.<ext>; attaching it copies it (as qcow2) into the VM's
primary pool, Copying -> Ready, and the store file is removed once the attach succeeded. `Volume.store_url`
records the store file (an upload, or the copy extractVolume made) so deleteVolume removes it too.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, select
from virga.context import Ctx
from virga.errors import InternalError, InvalidParameter, Unavailable, Unsupported
from virga.jobs.engine import JobRun, Ref, Restart, job_body, job_recover
from virga.models import Account, Host, StoragePool, Volume
from virga.services import limits, transfers, uploads
from virga.services.capacity import allocate_pool, release_pool
from virga.services.events import record_event
from virga.services.snapshotbackups import zone_store
from virga.services.states import VolumeState, transition

if TYPE_CHECKING:
    from virga.appliance.storage import StoredImage

GIB = 2**30
SECONDARY_STORAGE = 11  # resource type: secondary storage, GiB


def nfs_store_url(s: Session, zone_id: int) -> str:
    """The nfs:// URL of the zone's image store; Unavailable when it has none."""
    store = zone_store(s, zone_id)
    if store is None:
        raise Unavailable("The zone has no NFS image store; volume uploads and extracts need one (addImageStore)")
    return store.url


def _vol(s: Session, uuid: str) -> Volume:
    """A live volume by uuid; 431 otherwise."""
    vol = s.exec(select(Volume).where(Volume.uuid == uuid, Volume.removed == None)).first()
    if vol is None:
        raise InvalidParameter(f"Unable to find volume with id {uuid}")
    return vol


def _event(s: Session, vol: Volume, kind: str, text: str, level: str = "INFO") -> None:
    """Record an event about a volume."""
    record_event(s, kind, text, account_id=vol.account_id, domain_id=vol.domain_id, resource=vol, level=level)


# --- upload -------------------------------------------------------------------


def _claim(app: Any, uuid: str, total: int | None) -> tuple[str, str, str]:
    """Check the secondary-storage limit and mark the volume UploadInProgress; (store url, dest, format)."""
    from virga.appliance.storage.layout import volume_path

    with app.db.session() as s:
        vol = _vol(s, uuid)
        if vol.state not in ("NotUploaded", "UploadError"):
            raise InvalidParameter(f"Volume {vol.name} is not waiting for an upload (state {vol.state})")
        account = s.get(Account, vol.account_id)
        if account is not None and total:
            limits.check(s, account, SECONDARY_STORAGE, -(-total // GIB))
        store_url, fmt = nfs_store_url(s, vol.zone_id), vol.format.lower()
        transition(vol, "upload")
        s.add(vol)
        s.commit()
        return store_url, volume_path(vol.account_id, vol.id, vol.uuid, fmt), fmt


def _finish(app: Any, uuid: str, got: StoredImage | None, reason: str = "") -> None:
    """Record the upload's outcome: Uploaded with its sizes, or UploadError with an event saying why."""
    with app.db.session() as s:
        vol = _vol(s, uuid)
        if got is None:
            transition(vol, "upload_failed")
            _event(s, vol, "VOLUME.UPLOAD", f"Upload of volume {vol.name} failed: {reason}", "ERROR")
        else:
            transition(vol, "uploaded")
            vol.store_url, vol.format = got.url, got.fmt.upper()
            vol.size, vol.physicalsize = got.virtual_size or got.size, got.size
            _event(s, vol, "VOLUME.UPLOAD", f"Uploaded volume {vol.name} ({got.size} bytes, {got.fmt})")
        s.add(vol)
        s.commit()
    app.emit("volume", uuid)


async def receive(
    app: Any, uuid: str, chunks: AsyncIterator[bytes], total: int | None, checksum: str | None
) -> dict[str, Any]:
    """Verify (checksum, format) and store an uploaded volume file; the volume becomes Uploaded or UploadError."""
    store_url, dest, fmt = _claim(app, uuid, total)
    try:
        got = await uploads.land_upload(chunks, store_url, dest, checksum=checksum, fmt=fmt, total=total)
    except uploads.UploadRefused as exc:
        _finish(app, uuid, None, exc.reason)
        raise
    except BaseException as exc:
        _finish(app, uuid, None, str(exc) or type(exc).__name__)
        raise
    _finish(app, uuid, got)
    return {"id": uuid, "size": got.size, "status": "Uploaded"}


# --- the store file -------------------------------------------------------------


def store_copy(s: Session, vol: Volume) -> tuple[str, str] | None:
    """(store URL, store path) of a volume's file on the image store, or None when it has none."""
    if not vol.store_url:
        return None
    store_url = nfs_store_url(s, vol.zone_id)
    return store_url, uploads.on_store(store_url, vol.store_url, f"Volume {vol.name}")


def store_file(s: Session, uuid: str) -> tuple[str, str]:
    """What the download route serves for a volume: its store file; 431 when it has none."""
    vol = _vol(s, uuid)
    where = store_copy(s, vol)
    if where is None:
        raise InvalidParameter(f"Volume {vol.name} has no file on the image store (extract it first)")
    return where


async def _remove(where: tuple[str, str]) -> None:
    """Delete a volume's folder (volumes/<account>/<volume>) from the store; gone already is fine."""
    from virga.appliance.storage import ImageStore as NfsStore
    from virga.appliance.storage import StorageError

    store_url, rel = where
    try:
        await NfsStore(store_url).delete(rel.rpartition("/")[0] or rel, missing_ok=True)
    except StorageError as exc:
        raise InternalError(f"Removing {rel} from the image store {store_url} failed: {exc}") from None


async def drop_store_copy(s: Session, vol: Volume) -> None:
    """Remove a volume's image-store file (deleteVolume); the caller commits the cleared store_url."""
    where = store_copy(s, vol)
    if where is not None:
        await _remove(where)
        vol.store_url = ""
        s.add(vol)


# --- first attach: copy to primary ------------------------------------------------


def _local_pool(s: Session, host: Host, vol: Volume) -> StoragePool:
    """A pool of the host with room, which must be a directory on this server (the copy is local)."""
    from virga.services.placement import choose_pool

    backend = transfers.for_hypervisor(host.hypervisor)
    if not backend.files:
        raise Unsupported(f"Volume {vol.name}: uploaded files cannot go to host {host.name} ({backend.why_no_files})")
    pool = choose_pool(s, host, vol.size)
    if not pool.path or not os.path.isdir(pool.path):
        raise Unsupported(
            f"Volume {vol.name}: copying an uploaded volume to pool {pool.name} needs the pool to be "
            "a directory on this management server (remote pools are not supported yet)"
        )
    return pool


def _uncopy(run: JobRun, vol_uuid: str, pool_id: int, dest: str) -> None:
    """Undo of the copy to primary: remove the copy, give the pool its bytes back, Uploaded again."""
    with suppress(FileNotFoundError):
        os.unlink(dest)
    with run.db() as s:
        vol = _vol(s, vol_uuid)
        release_pool(s, pool_id, vol.size)
        if vol.state == "Copying":
            transition(vol, "copy_failed")
        vol.pool_id, vol.path = None, ""
        s.add(vol)
        s.commit()


async def to_primary(run: JobRun, vol_uuid: str, host: Host) -> None:
    """Copy an Uploaded volume from the image store into a pool of the host (qcow2); it becomes Ready."""
    from virga.appliance.storage import ImageStore as NfsStore
    from virga.appliance.storage import StorageError
    from virga.appliance.storage.primary import ensure_on_primary
    from virga.services.specs import pool_spec

    with run.db() as s:
        vol = _vol(s, vol_uuid)
        pool = _local_pool(s, host, vol)
        where = store_copy(s, vol)
        if where is None:
            raise InternalError(f"Volume {vol.name} is Uploaded but has no file on the image store")
        transition(vol, "copy")
        allocate_pool(s, pool.id, vol.size)
        vol.pool_id = pool.id
        s.add(vol)
        s.commit()
        pool_dir, pool_id, spec = pool.path, pool.id or 0, pool_spec(pool)
    dest = str(Path(pool_dir) / f"{vol_uuid}.qcow2")
    run.undo.push(f"remove the copy of volume {vol_uuid}", lambda: _uncopy(run, vol_uuid, pool_id, dest))
    try:
        await ensure_on_primary(NfsStore(where[0]), where[1], pool_dir)
    except StorageError as exc:
        raise InternalError(f"Copying uploaded volume {vol_uuid} to pool {pool_dir} failed: {exc}") from None
    finally:
        with suppress(FileNotFoundError):
            os.unlink(Path(pool_dir) / f".{vol_uuid}.lock")
    await (await run.app.hosts.driver(host)).pool_stats(spec)  # the hypervisor's pool learns of the new file
    with run.db() as s:
        vol = _vol(s, vol_uuid)
        vol.path, vol.format, vol.physicalsize = dest, "QCOW2", os.path.getsize(dest)
        transition(vol, "copied")
        _event(s, vol, "VOLUME.COPY", f"Copied uploaded volume {vol.name} to primary storage")
        s.add(vol)
        s.commit()


async def drop_after_copy(run: JobRun, vol_uuid: str) -> None:
    """After a successful first attach: the upload's store file is no longer needed."""
    with run.db() as s:
        vol = _vol(s, vol_uuid)
        where = store_copy(s, vol)
        vol.store_url = ""
        s.add(vol)
        s.commit()
    if where is not None:
        await _remove(where)


# --- extract ------------------------------------------------------------------------


async def publish(run: JobRun) -> None:
    """Put a Ready volume's current content on the image store (flattened qcow2) for extractVolume."""
    from virga.appliance.storage import ImageStore as NfsStore
    from virga.appliance.storage import StorageError
    from virga.appliance.storage.layout import volume_path
    from virga.appliance.storage.primary import backup_snapshot

    with run.db() as s:
        vol = _vol(s, run.instance_uuid)
        if vol.state == "Uploaded":
            return
        store_url, source = nfs_store_url(s, vol.zone_id), vol.path
        dest = volume_path(vol.account_id, vol.id, vol.uuid, "qcow2")
    if not source or not os.path.isfile(source):
        raise Unsupported(
            f"Volume {run.instance_uuid}: its file {source or '(none)'} is not on this management "
            "server (extracting from a remote host's pool is not supported yet)"
        )
    try:
        got = await backup_snapshot(source, NfsStore(store_url), dest, overwrite=True)
    except StorageError as exc:
        raise InternalError(f"Copying volume {run.instance_uuid} to the image store failed: {exc}") from None
    with run.db() as s:
        vol = _vol(s, run.instance_uuid)
        vol.store_url = got.url
        s.add(vol)
        s.commit()


def reset_copying(run: JobRun) -> None:
    """After a restart during an attach: an uploaded volume caught Copying is Uploaded again (its copy removed)."""
    with run.db() as s:
        vol = s.exec(select(Volume).where(Volume.uuid == run.instance_uuid)).first()
        if vol is None or vol.state != "Copying" or vol.pool_id is None:
            return
        pool, pool_id = s.get(StoragePool, vol.pool_id), vol.pool_id
        dest = str(Path(pool.path) / f"{vol.uuid}.qcow2") if pool is not None and pool.path else ""
    _uncopy(run, run.instance_uuid, pool_id, dest)


# --- the volume upload and extract commands -------------------------------------------


def record_upload(ctx: Ctx, vol: Volume, checksum: str) -> dict[str, Any]:
    """Record a volume waiting for its file (NotUploaded); the getuploadparams object signing its POST."""
    ctx.db.add(vol)
    ctx.db.flush()
    return uploads.upload_params(ctx.db, vol, "volume", checksum=checksum)


@job_body("extractVolume", restart=Restart.RECONCILE)
async def extract(run: JobRun) -> Ref:
    """Copy the volume to the image store (unless it is an upload still there) and sign a download URL for it."""
    await publish(run)
    with run.db() as s:
        _store, rel = store_file(s, run.instance_uuid)
        url = uploads.signed_url(s, "volume", run.instance_uuid, rel.rsplit("/", 1)[1])
    return Ref(uploads.Extracted, uploads.Extracted(Volume, run.instance_uuid, url, run.params["mode"]), key="volume")


@job_recover("extractVolume")
async def recover_extract(run: JobRun) -> None:
    """An extract whose server died while copying: remove the copy it may have left, unless the volume records it."""
    from virga.appliance.storage.layout import volume_path

    with run.db() as s:
        vol = s.exec(select(Volume).where(Volume.uuid == run.instance_uuid)).first()
        if vol is None or vol.store_url or vol.state == VolumeState.UPLOADED:
            return
        store = zone_store(s, vol.zone_id)
        if store is None:
            return
        where = (store.url, volume_path(vol.account_id, vol.id, vol.uuid, "qcow2"))
    await _remove(where)
