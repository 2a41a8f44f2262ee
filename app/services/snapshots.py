"""Snapshot workflows: volume snapshots, templates from snapshots or volumes, policies (VM snapshots: vmsnapshots.py).

Snapshots are taken by the host's driver on the volume's primary pool, then copied to the zone's image
store as qcow2 when the driver left a file here or on a KVM host reached over SSH (snapbackup.py says when,
and why not otherwise). The
primary copy is kept for fast reverts; the backup serves templates and outlives the primary copy.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select
from virga.drivers.base import SnapshotInfo
from virga.errors import InvalidParameter
from virga.jobs.engine import JobRun, job_body, job_recover
from virga.jobs.undo import UndoStack
from virga.models import Snapshot, SnapshotPolicy, StoragePool, VirtualMachine, Volume, utcnow
from virga.services import snapbackup
from virga.services.events import record_event
from virga.services.specs import volume_spec
from virga.services.states import transition
from virga.services.volumes import host_for_pool

if TYPE_CHECKING:
    from virga.core import VirgaApp

log = logging.getLogger(__name__)
INTERVALS = {"HOURLY": 0, "DAILY": 1, "WEEKLY": 2, "MONTHLY": 3}


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
        target = snapbackup.plan(s, snap, vol, host, info.path, primary_only=primary_only)
        if isinstance(target, str):
            _event(s, snap, "SNAPSHOT.BACKUP", f"Snapshot {snap.name} is kept on primary storage only: {target}")
        transition(snap, "backup")
        s.add(snap)
        s.commit()
    backup = None if isinstance(target, str) else await snapbackup.run_backup(target)
    if backup is not None:
        undo.push("delete snapshot backup", lambda: snapbackup.drop_backup(backup.url))
    with app.db.session() as s:
        snap = snap_by_uuid(s, snap_uuid)
        transition(snap, "backedup")
        if backup is not None:
            snap.backup_path, snap.locationtype = backup.url, snapbackup.ON_SECONDARY
            snap.physicalsize = backup.size
            _event(s, snap, "SNAPSHOT.BACKUP", f"Backed up snapshot {snap.name} to {backup.url} ({backup.copied})")
        _event(s, snap, "SNAPSHOT.CREATE", f"Created snapshot {snap.name} of volume {vol.name}")
        s.add(snap)
        s.commit()


def _drop(app: VirgaApp, snap_uuid: str) -> None:
    """Undo of a snapshot: its row goes away."""
    with app.db.session() as s:
        snap = snap_by_uuid(s, snap_uuid)
        snap.state, snap.removed = "Error", utcnow()
        s.add(snap)
        s.commit()


def result(run: JobRun) -> dict[str, Any]:
    """The job result: the snapshot as its owner sees it now."""
    from virga.api.commands.snapshots import snapshot_view

    with run.ctx() as ctx:
        return {"snapshot": snapshot_view(ctx, snap_by_uuid(ctx.db, run.instance_uuid))}


@job_body("createSnapshot")
async def create(run: JobRun) -> dict[str, Any]:
    """Snapshot a volume."""
    run.undo.push("drop snapshot", lambda: _drop(run.app, run.instance_uuid))
    primary_only = str(run.params.get("locationtype") or "").upper() == snapbackup.ON_PRIMARY
    await take(run.app, run.instance_uuid, run.undo, primary_only=primary_only)
    return result(run)


async def _recover_create(run: JobRun) -> None:
    """A snapshot job whose server died: drop the unfinished snapshot row."""
    with run.db() as s:
        snap = s.exec(select(Snapshot).where(Snapshot.uuid == run.instance_uuid)).first()
        if snap is not None and snap.state != "BackedUp":
            snap.state, snap.removed = "Error", utcnow()
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
    if target is not None and not await snapbackup.primary_gone_on(target[0], snap):
        drv = await app.hosts.driver(target[0])
        await drv.delete_volume_snapshot(target[1], info_of(snap))
    if snap.backup_path:
        await snapbackup.drop_backup(snap.backup_path)
    with app.db.session() as s:
        snap = snap_by_uuid(s, snap_uuid)
        transition(snap, "destroy")
        snap.removed = utcnow()
        _event(s, snap, "SNAPSHOT.DELETE", f"Deleted snapshot {snap.name}")
        s.add(snap)
        s.commit()


@job_body("deleteSnapshot")
async def delete(run: JobRun) -> dict[str, Any]:
    """Delete a snapshot."""
    await remove(run.app, run.instance_uuid)
    return {"success": True}


@job_body("revertSnapshot")
async def revert(run: JobRun) -> dict[str, Any]:
    """Roll a volume back to a snapshot."""
    with run.db() as s:
        snap = snap_by_uuid(s, run.instance_uuid)
        vol = s.get(Volume, snap.volume_id)
        assert vol is not None
        host, spec = volume_host(s, vol), volume_spec(s, vol)
    if await snapbackup.primary_gone_on(host, snap):
        await snapbackup.restore_into(snap.backup_path, spec.path, snapbackup.remote_host(host))
    else:
        drv = await run.app.hosts.driver(host)
        await drv.revert_volume_snapshot(spec, info_of(snap))
    with run.db() as s:
        snap = snap_by_uuid(s, run.instance_uuid)
        transition(snap, "revert")
        _event(s, snap, "SNAPSHOT.REVERT", f"Reverted volume {vol.name} to snapshot {snap.name}")
        s.commit()
    return result(run)


# --- recurring snapshot policies ---------------------------------------------------


def parse_schedule(intervaltype: str, schedule: str) -> tuple[int, int, int]:
    """(minute, hour, day) of a CloudStack schedule: MM, MM:HH, MM:HH:DOW(1-7) or MM:HH:DD(1-28)."""
    parts = schedule.split(":")
    need = {"HOURLY": 1, "DAILY": 2, "WEEKLY": 3, "MONTHLY": 3}[intervaltype]
    try:
        nums = [int(p) for p in parts]
    except ValueError:
        nums = []
    if len(nums) != need:
        raise InvalidParameter(
            f"Parameter schedule: {schedule!r} is not a valid {intervaltype} schedule "
            "(HOURLY MM, DAILY MM:HH, WEEKLY MM:HH:DD with DD 1-7, MONTHLY MM:HH:DD with DD 1-28)"
        )
    minute, hour, day = nums[0], nums[1] if need > 1 else 0, nums[2] if need > 2 else 1
    top = 7 if intervaltype == "WEEKLY" else 28
    if not (0 <= minute < 60 and 0 <= hour < 24 and 1 <= day <= top):
        raise InvalidParameter(f"Parameter schedule: {schedule!r} is out of range for {intervaltype}")
    return minute, hour, day


def last_slot(pol: SnapshotPolicy, now: datetime) -> datetime:
    """The latest scheduled time of a policy at or before now."""
    minute, hour, day = parse_schedule(pol.intervaltype, pol.schedule)
    local = now.astimezone(ZoneInfo(pol.timezone or "UTC"))
    if pol.intervaltype == "HOURLY":
        slot = local.replace(minute=minute, second=0, microsecond=0)
        return slot if slot <= local else slot - timedelta(hours=1)
    slot = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if pol.intervaltype == "DAILY":
        return slot if slot <= local else slot - timedelta(days=1)
    if pol.intervaltype == "WEEKLY":
        back = (slot.isoweekday() % 7 + 1 - day) % 7  # CloudStack counts Sunday as day 1
        slot -= timedelta(days=back)
        return slot if slot <= local else slot - timedelta(days=7)
    slot = slot.replace(day=day)
    if slot > local:
        slot = (slot.replace(day=1) - timedelta(days=1)).replace(day=day)
    return slot


def _due(s: Session, now: datetime) -> list[int]:
    """Ids of the policies whose last scheduled time has passed since they last ran."""
    out = []
    for pol in s.exec(select(SnapshotPolicy).where(SnapshotPolicy.removed == None)):
        last = pol.last_run.replace(tzinfo=now.tzinfo) if pol.last_run and pol.last_run.tzinfo is None else pol.last_run
        if last is None or last < last_slot(pol, now):
            out.append(pol.id or 0)
    return out


async def run_snapshot_policies(app: VirgaApp) -> None:
    """Take the snapshots that are due and delete each policy's oldest beyond maxsnaps."""
    now = utcnow()
    with app.db.session() as s:
        due = _due(s, now)
    for pid in due:
        try:
            await _run_policy(app, pid, now)
        except Exception as exc:
            log.warning("snapshot policy %s failed: %s", pid, exc)


async def _run_policy(app: VirgaApp, pid: int, now: datetime) -> None:
    """One due policy: a new snapshot, then pruning."""
    with app.db.session() as s:
        pol = s.get(SnapshotPolicy, pid)
        assert pol is not None
        pol.last_run = now
        s.add(pol)
        vol = s.get(Volume, pol.volume_id)
        if vol is None or vol.removed is not None or vol.state != "Ready":
            s.commit()
            return
        snap = Snapshot(
            name=snapshot_name(s, vol, now),
            volume_id=vol.id or 0,
            zone_id=vol.zone_id,
            account_id=vol.account_id,
            domain_id=vol.domain_id,
            snapshottype="RECURRING",
            intervaltype=pol.intervaltype,
            policy_id=pid,
        )
        s.add(snap)
        s.commit()
        snap_uuid, keep = snap.uuid, pol.maxsnaps
    undo = UndoStack()
    async with undo:
        undo.push("drop snapshot", lambda: _drop(app, snap_uuid))
        await take(app, snap_uuid, undo)
    with app.db.session() as s:
        rows = s.exec(
            select(Snapshot)
            .where(
                Snapshot.policy_id == pid,
                Snapshot.removed == None,
                Snapshot.state == "BackedUp",
            )
            .order_by(Snapshot.id)
        ).all()
        extra = [r.uuid for r in rows[: max(0, len(rows) - keep)]]
    for uuid in extra:
        await remove(app, uuid)


def snapshot_name(s: Session, vol: Volume, now: datetime) -> str:
    """CloudStack's snapshot name: vmname_volumename_yyyyMMddHHmmss."""
    vm = s.get(VirtualMachine, vol.vm_id) if vol.vm_id else None
    return f"{vm.name + '_' if vm else ''}{vol.name}_{now.strftime('%Y%m%d%H%M%S')}"
