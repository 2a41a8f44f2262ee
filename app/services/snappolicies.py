"""Recurring snapshot policies: CloudStack's schedules, the policy writes, and the runner taking due snapshots."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select
from virga.context import Ctx
from virga.errors import InvalidParameter
from virga.jobs.undo import UndoStack
from virga.models import Snapshot, SnapshotPolicy, Volume, utcnow
from virga.services.snapshots import drop, remove, snapshot_name, take
from virga.services.states import SnapshotState, VolumeState

if TYPE_CHECKING:
    from virga.core import VirgaApp

log = logging.getLogger(__name__)
INTERVALS = {"HOURLY": 0, "DAILY": 1, "WEEKLY": 2, "MONTHLY": 3}


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
        if vol is None or vol.removed is not None or vol.state != VolumeState.READY:
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
        undo.push("drop snapshot", lambda: drop(app, snap_uuid))
        await take(app, snap_uuid, undo)
    with app.db.session() as s:
        rows = s.exec(
            select(Snapshot)
            .where(
                Snapshot.policy_id == pid,
                Snapshot.removed == None,
                Snapshot.state == SnapshotState.BACKED_UP,
            )
            .order_by(col(Snapshot.id))
        ).all()
        extra = [r.uuid for r in rows[: max(0, len(rows) - keep)]]
    for uuid in extra:
        await remove(app, uuid)


# --- the policy commands' writes ----------------------------------------------------


def save(ctx: Ctx, vol: Volume, kind: str, schedule: str, timezone: str, maxsnaps: int) -> SnapshotPolicy:
    """Add a volume's policy for an interval, or replace the one it has (createSnapshotPolicy)."""
    pol = ctx.db.exec(
        select(SnapshotPolicy).where(
            SnapshotPolicy.volume_id == vol.id, SnapshotPolicy.intervaltype == kind, SnapshotPolicy.removed == None
        )
    ).first()
    pol = pol or SnapshotPolicy(volume_id=vol.id or 0, intervaltype=kind)
    pol.schedule, pol.timezone, pol.maxsnaps, pol.last_run = schedule, timezone, maxsnaps, utcnow()
    ctx.db.add(pol)
    ctx.db.flush()
    return pol


def change(ctx: Ctx, pol: SnapshotPolicy, kind: str, schedule: str, timezone: str, maxsnaps: int) -> SnapshotPolicy:
    """Change a policy's interval, schedule, time zone and retention (updateSnapshotPolicy)."""
    pol.intervaltype, pol.schedule, pol.timezone, pol.maxsnaps = kind, schedule, timezone, maxsnaps
    ctx.db.add(pol)
    return pol


def delete(ctx: Ctx, pols: list[SnapshotPolicy]) -> None:
    """Remove policies (deleteSnapshotPolicies); their snapshots stay."""
    for pol in pols:
        pol.removed = utcnow()
        ctx.db.add(pol)
