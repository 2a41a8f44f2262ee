"""Volume snapshots: create, delete and revert (recurring ones: snappolicies.py; VM snapshots: vmsnapshots.py).

Snapshots are taken by the host's driver on the volume's primary pool, then copied to the zone's image
store as qcow2 when the driver left a file here or on a KVM host reached over SSH (snapshotbackups.py says when,
and why not otherwise). The
primary copy is kept for fast reverts; the backup serves templates and outlives the primary copy.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, select
from virga.context import Ctx
from virga.drivers.base import SnapshotInfo
from virga.errors import InvalidParameter
from virga.jobs.engine import JobRun, Ref, Restart, job_body, job_recover
from virga.jobs.pending import Pending
from virga.jobs.undo import UndoStack
from virga.models import Snapshot, StoragePool, VirtualMachine, Volume, utcnow
from virga.services import snapshotbackups
from virga.services.events import record_event
from virga.services.specs import volume_spec
from virga.services.states import SnapshotState, can, transition
from virga.services.volumes import host_for_pool

if TYPE_CHECKING:
    from virga.core import VirgaApp

log = logging.getLogger(__name__)


def snap_by_uuid(s: Session, uuid: str) -> Snapshot:
    """A snapshot by uuid."""
    return s.exec(select(Snapshot).where(Snapshot.uuid == uuid)).one()


def info_of(snap: Snapshot) -> SnapshotInfo:
    """The driver's view of a snapshot."""
    return SnapshotInfo(name=snap.uuid, path=snap.path, size_bytes=snap.size)


def _event(s: Session, row: Any, kind: str, text: str, level: str = "INFO") -> None:
    """Record a snapshot event."""
    record_event(s, kind, text, account_id=row.account_id, domain_id=row.domain_id, resource=row, level=level)


def volume_host(s: Session, vol: Volume) -> Any:
    """The host whose driver handles a volume's disk."""
    pool = s.get(StoragePool, vol.pool_id) if vol.pool_id else None
    if pool is None or not vol.path:
        raise InvalidParameter(f"Volume {vol.name} has no disk yet (state {vol.state})")
    return host_for_pool(s, pool)


# --- volume snapshots -----------------------------------------------------------


async def take(app: VirgaApp, snap_uuid: str, undo: UndoStack, *, primary_only: bool = False) -> None:
    """Take a volume snapshot through the driver, back it up to the image store when it is a file, mark it BackedUp."""
    with app.db.session() as s:
        snap = snap_by_uuid(s, snap_uuid)
        vol = s.get(Volume, snap.volume_id)
        assert vol is not None
        host, spec = volume_host(s, vol), volume_spec(s, vol)
    drv = await app.hosts.driver(host)
    info = await drv.snapshot_volume(spec, snap_uuid)
    undo.push("delete driver snapshot", lambda: drv.delete_volume_snapshot(spec, info))
    with app.db.session() as s:
        snap = snap_by_uuid(s, snap_uuid)
        transition(snap, "created")
        snap.path, snap.size, snap.physicalsize = info.path, info.size_bytes or vol.size, info.size_bytes
        target = snapshotbackups.plan(s, snap, vol, host, info.path, primary_only=primary_only)
        if isinstance(target, str):
            _event(s, snap, "SNAPSHOT.BACKUP", f"Snapshot {snap.name} is kept on primary storage only: {target}")
        transition(snap, "backup")
        s.add(snap)
        s.commit()
    backup = None if isinstance(target, str) else await snapshotbackups.run_backup(target)
    if backup is not None:
        undo.push("delete snapshot backup", lambda: snapshotbackups.drop_backup(backup.url))
    with app.db.session() as s:
        snap = snap_by_uuid(s, snap_uuid)
        transition(snap, "backedup")
        if backup is not None:
            snap.backup_path, snap.locationtype = backup.url, snapshotbackups.ON_SECONDARY
            snap.physicalsize = backup.size
            _event(s, snap, "SNAPSHOT.BACKUP", f"Backed up snapshot {snap.name} to {backup.url} ({backup.copied})")
        _event(s, snap, "SNAPSHOT.CREATE", f"Created snapshot {snap.name} of volume {vol.name}")
        s.add(snap)
        s.commit()


def drop(app: VirgaApp, snap_uuid: str) -> None:
    """Undo of a snapshot: its row goes away (as Error)."""
    with app.db.session() as s:
        snap = snap_by_uuid(s, snap_uuid)
        transition(snap, "abandon")
        snap.removed = utcnow()
        s.add(snap)
        s.commit()


@job_body("createSnapshot", restart=Restart.RECONCILE)
async def create(run: JobRun) -> Ref:
    """Snapshot a volume."""
    run.undo.push("drop snapshot", lambda: drop(run.app, run.instance_uuid))
    primary_only = str(run.params.get("locationtype") or "").upper() == snapshotbackups.ON_PRIMARY
    await take(run.app, run.instance_uuid, run.undo, primary_only=primary_only)
    return Ref(Snapshot, run.instance_uuid)


async def _recover_create(run: JobRun) -> None:
    """A snapshot job whose server died: drop the unfinished snapshot row."""
    with run.db() as s:
        snap = s.exec(select(Snapshot).where(Snapshot.uuid == run.instance_uuid)).first()
        if snap is not None and snap.state != SnapshotState.BACKED_UP and can(snap, "abandon"):
            transition(snap, "abandon")
            snap.removed = utcnow()
            s.add(snap)
            s.commit()


job_recover("createSnapshot")(_recover_create)


async def remove(app: VirgaApp, snap_uuid: str) -> None:
    """Delete a snapshot on the driver (when its volume still exists) and mark it Destroyed."""
    with app.db.session() as s:
        snap = snap_by_uuid(s, snap_uuid)
        vol = s.get(Volume, snap.volume_id)
        target = None
        if vol is not None and vol.removed is None and vol.path and snap.path:
            target = (volume_host(s, vol), volume_spec(s, vol))
    if target is not None and not await snapshotbackups.primary_gone_on(target[0], snap):
        drv = await app.hosts.driver(target[0])
        await drv.delete_volume_snapshot(target[1], info_of(snap))
    if snap.backup_path:
        await snapshotbackups.drop_backup(snap.backup_path)
    with app.db.session() as s:
        snap = snap_by_uuid(s, snap_uuid)
        transition(snap, "destroy")
        snap.removed = utcnow()
        _event(s, snap, "SNAPSHOT.DELETE", f"Deleted snapshot {snap.name}")
        s.add(snap)
        s.commit()


@job_body("deleteSnapshot", restart=Restart.RECONCILE)
async def delete(run: JobRun) -> dict[str, Any]:
    """Delete a snapshot."""
    await remove(run.app, run.instance_uuid)
    return {"success": True}


@job_recover("deleteSnapshot")
async def recover_delete(run: JobRun) -> None:
    """A deletion whose server died part-way: delete again what is left (the driver snapshot, the backup)."""
    with run.db() as s:
        snap = s.exec(select(Snapshot).where(Snapshot.uuid == run.instance_uuid)).first()
        if snap is None or snap.removed is not None or not can(snap, "destroy"):
            return
    await remove(run.app, run.instance_uuid)


@job_body("revertSnapshot", restart=Restart.RECONCILE)
async def revert(run: JobRun) -> Ref:
    """Roll a volume back to a snapshot."""
    with run.db() as s:
        snap = snap_by_uuid(s, run.instance_uuid)
        vol = s.get(Volume, snap.volume_id)
        assert vol is not None
        host, spec = volume_host(s, vol), volume_spec(s, vol)
    if await snapshotbackups.primary_gone_on(host, snap):
        await snapshotbackups.restore_into(snap.backup_path, spec.path, snapshotbackups.remote_host(host))
    else:
        drv = await run.app.hosts.driver(host)
        await drv.revert_volume_snapshot(spec, info_of(snap))
    with run.db() as s:
        snap = snap_by_uuid(s, run.instance_uuid)
        transition(snap, "revert")
        _event(s, snap, "SNAPSHOT.REVERT", f"Reverted volume {vol.name} to snapshot {snap.name}")
        s.commit()
    return Ref(Snapshot, run.instance_uuid)


@job_recover("revertSnapshot")
async def recover_revert(run: JobRun) -> None:
    """A revert whose server died: the volume may hold part of the snapshot's data, so revert it again to the end.

    The volume's VM was checked stopped and the snapshot BackedUp when the job was queued; reverting is
    idempotent (the volume ends with the snapshot's content), so a second run reconciles a half-written disk.
    """
    with run.db() as s:
        snap = s.exec(select(Snapshot).where(Snapshot.uuid == run.instance_uuid)).first()
        vol = s.get(Volume, snap.volume_id) if snap is not None else None
        if snap is None or snap.removed is not None or vol is None or vol.removed is not None:
            return
    await revert(run)


def snapshot_name(s: Session, vol: Volume, now: datetime) -> str:
    """CloudStack's snapshot name: vmname_volumename_yyyyMMddHHmmss."""
    vm = s.get(VirtualMachine, vol.vm_id) if vol.vm_id else None
    return f"{vm.name + '_' if vm else ''}{vol.name}_{now.strftime('%Y%m%d%H%M%S')}"


# --- the snapshot commands' writes -------------------------------------------------


def record(ctx: Ctx, vol: Volume, name: str | None, locationtype: str) -> Pending:
    """Record a volume's snapshot as Allocated (createSnapshot); the job takes it."""
    snap = Snapshot(
        name=name or snapshot_name(ctx.db, vol, utcnow()),
        volume_id=vol.id or 0,
        zone_id=vol.zone_id,
        account_id=vol.account_id,
        domain_id=vol.domain_id,
    )
    ctx.db.add(snap)
    ctx.db.flush()
    return Pending("Snapshot", snap.uuid, {"locationtype": locationtype} if locationtype else {})
