"""Volume snapshot commands, templates made from snapshots or volumes, and snapshot policies."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import col, select
from virga.api.registry import Param, api
from virga.api.response import list_body
from virga.api.views.common import preload_owners
from virga.api.views.snapshots import policy_view, snapshot_view
from virga.context import Ctx
from virga.errors import InUse, InvalidParameter
from virga.jobs.pending import Pending
from virga.models import AsyncJob, OsType, Snapshot, SnapshotPolicy, Template, VirtualMachine, Volume, Zone
from virga.services import limits, snappolicies, templatecapture
from virga.services import snapshots as svc
from virga.services.states import SnapshotState, VmState, VolumeState


def _snap(ctx: Ctx, param: str = "id") -> Snapshot:
    """The snapshot named by a parameter, which the caller may change."""
    snap = ctx.get(Snapshot, ctx.args.get(param), param)
    ctx.require(snap, f"snapshot {snap.name}")
    return snap


def _busy(ctx: Ctx, uuid: str, what: str) -> None:
    """Refuse when a job is already working on a resource."""
    job = ctx.db.exec(
        select(AsyncJob).where(col(AsyncJob.instance_uuid) == uuid, col(AsyncJob.state).in_(("queued", "running")))
    ).first()
    if job is not None:
        raise InUse(f"{what} has a job in progress ({job.command})")


@api(
    "createSnapshot",
    "Creates a snapshot of a volume",
    "snapshot",
    [
        Param("volumeid", "uuid", required=True, description="the volume"),
        Param("name", description="a name"),
        Param("account", description="unused: the volume's owner owns the snapshot"),
        Param("domainid", "uuid", description="unused"),
        Param("policyid", "uuid", description="unused"),
        Param("quiescevm", "boolean", description="unused"),
        Param("asyncbackup", "boolean", description="unused"),
        Param("locationtype", description="PRIMARY keeps it on primary storage only; default: backed up"),
        Param("tags", "map", description="unused"),
    ],
    is_async=True,
)
def create_snapshot(ctx: Ctx) -> Pending:
    """Check the volume, the snapshot limit, and queue the snapshot."""
    vol = ctx.get(Volume, ctx.args.volumeid, "volumeid")
    ctx.require(vol, f"volume {vol.name}")
    if vol.state != VolumeState.READY or not vol.path:
        raise InvalidParameter(
            f"Volume {vol.name} is {vol.state}; only Ready volumes can be snapshotted "
            "(a new data volume is created when first attached)"
        )
    account = ctx.by_id(type(ctx.account), vol.account_id) or ctx.account
    limits.check(ctx.db, account, 3, 1)
    primary = (ctx.args.locationtype or "").upper()
    if primary not in ("", "PRIMARY", "SECONDARY"):
        raise InvalidParameter("Parameter locationtype must be PRIMARY or SECONDARY")
    return svc.record(ctx, vol, ctx.args.name, primary)


@api(
    "listSnapshots",
    "Lists volume snapshots",
    "snapshot",
    [
        Param("id", "uuid", description="the snapshot"),
        Param("ids", "uuidlist", description="several"),
        Param("name", description="the name"),
        Param("volumeid", "uuid", description="snapshots of a volume"),
        Param("snapshottype", description="MANUAL or RECURRING"),
        Param("intervaltype", description="interval"),
        Param("zoneid", "uuid", description="the zone"),
        Param("state", description="the state"),
        Param("account", description="the account"),
        Param("domainid", "uuid", description="the domain"),
        Param("isrecursive", "boolean", description="subdomains"),
        Param("tags", "map", description="tags"),
    ],
    paged=True,
)
def list_snapshots(ctx: Ctx) -> dict[str, Any]:
    """List the snapshots the caller may see."""
    a = ctx.args
    stmt = ctx.scope(select(Snapshot), Snapshot)
    if a.volumeid:
        stmt = stmt.where(Snapshot.volume_id == ctx.get(Volume, a.volumeid, "volumeid", removed_ok=True).id)
    if a.zoneid:
        stmt = stmt.where(Snapshot.zone_id == ctx.get(Zone, a.zoneid, "zoneid").id)
    for param, column in (
        ("snapshottype", Snapshot.snapshottype),
        ("intervaltype", Snapshot.intervaltype),
        ("state", Snapshot.state),
    ):
        if a.get(param):
            stmt = stmt.where(column == a[param].upper() if param != "state" else column == a[param])
    rows, count = ctx.page(stmt, Snapshot, resourcetype="Snapshot")
    preload_owners(ctx, rows)
    ctx.preload(Volume, {r.volume_id for r in rows})
    jobs = {
        j.instance_uuid: j
        for j in ctx.db.exec(
            select(AsyncJob).where(
                col(AsyncJob.instance_uuid).in_([r.uuid for r in rows]), col(AsyncJob.state).in_(("queued", "running"))
            )
        )
    }
    return list_body("snapshot", [snapshot_view(ctx, r, jobs) for r in rows], count)


@api(
    "deleteSnapshot",
    "Deletes a snapshot",
    "success",
    [
        Param("id", "uuid", required=True, description="the snapshot"),
    ],
    is_async=True,
)
def delete_snapshot(ctx: Ctx) -> Pending:
    """Queue the deletion, unless a template still uses the snapshot's data."""
    snap = _snap(ctx)
    _busy(ctx, snap.uuid, f"Snapshot {snap.name}")
    users = [
        t
        for t in ctx.db.exec(select(Template).where(Template.removed == None))
        if (t.details or {}).get("sourcesnapshotid") == snap.uuid and t.install_path == snap.path
    ]
    if users:
        raise InUse(f"Snapshot {snap.name} is used by template {users[0].name}; delete the template first")
    if snap.state not in (SnapshotState.BACKED_UP, SnapshotState.ERROR, SnapshotState.CREATED_ON_PRIMARY):
        raise InvalidParameter(f"Unable to delete snapshot {snap.name}: it is in state {snap.state}")
    return Pending("Snapshot", snap.uuid, with_id=False)


@api(
    "revertSnapshot",
    "Reverts a volume to a snapshot",
    "snapshot",
    [
        Param("id", "uuid", required=True, description="the snapshot"),
    ],
    is_async=True,
)
def revert_snapshot(ctx: Ctx) -> Pending:
    """Queue a revert; a ROOT volume's VM must be stopped."""
    snap = _snap(ctx)
    vol = ctx.by_id(Volume, snap.volume_id)
    if vol is None or vol.removed is not None:
        raise InvalidParameter(f"The volume of snapshot {snap.name} no longer exists")
    if snap.state != SnapshotState.BACKED_UP:
        raise InvalidParameter(f"Snapshot {snap.name} is {snap.state}; it must be BackedUp")
    vm = ctx.by_id(VirtualMachine, vol.vm_id)
    if vm is not None and vm.state != VmState.STOPPED:
        raise InvalidParameter(f"VM {vm.name} must be stopped to revert its {vol.type} volume {vol.name}")
    _busy(ctx, vol.uuid, f"Volume {vol.name}")
    return Pending("Snapshot", snap.uuid)


@api(
    "createTemplate",
    "Creates a template from a snapshot or a stopped VM's root volume",
    "template",
    [
        Param("name", required=True, description="the name of the template"),
        Param("displaytext", description="the display text"),
        Param("ostypeid", "uuid", required=True, description="the OS type"),
        Param("snapshotid", "uuid", description="the snapshot"),
        Param("volumeid", "uuid", description="the volume"),
        Param("ispublic", "boolean", description="visible to everyone"),
        Param("isfeatured", "boolean", description="featured (admins)"),
        Param("passwordenabled", "boolean", description="supports password reset"),
        Param("isdynamicallyscalable", "boolean", description="unused"),
        Param("bits", "integer", description="unused"),
        Param("details", "map", description="template details"),
        Param("zoneid", "uuid", description="unused"),
        Param("requireshvm", "boolean", description="unused"),
        Param("sshkeyenabled", "boolean", description="unused"),
    ],
    is_async=True,
)
def create_template(ctx: Ctx) -> Pending:
    """Record a template (not ready) owned by the caller and queue its creation."""
    a = ctx.args
    if bool(a.snapshotid) == bool(a.volumeid):
        raise InvalidParameter("Exactly one of the parameters snapshotid and volumeid is required")
    os = ctx.get(OsType, a.ostypeid, "ostypeid")
    details = {k: v for d in (a.details or []) for k, v in d.items()}
    if a.snapshotid:
        snap = _snap(ctx, "snapshotid")
        if snap.state != SnapshotState.BACKED_UP:
            raise InvalidParameter(f"Snapshot {snap.name} is {snap.state}; it must be BackedUp")
        vol = ctx.by_id(Volume, snap.volume_id)
        details["sourcesnapshotid"] = snap.uuid
    else:
        vol = ctx.get(Volume, a.volumeid, "volumeid")
        ctx.require(vol, f"volume {vol.name}")
        vm = ctx.by_id(VirtualMachine, vol.vm_id)
        if vol.type != "ROOT" or vm is None:
            raise InvalidParameter(f"Volume {vol.name} is not the ROOT volume of a VM")
        if vm.state != VmState.STOPPED:
            raise InvalidParameter(f"VM {vm.name} must be stopped to make a template of its ROOT volume")
        details["sourcevolumeid"] = vol.uuid
    limits.check(ctx.db, ctx.account, 4, 1)
    flags = {
        "name": a.name,
        "displaytext": a.displaytext or a.name,
        "ispublic": bool(a.ispublic),
        "isfeatured": bool(a.isfeatured and ctx.is_root),
        "passwordenabled": bool(a.passwordenabled),
    }
    return templatecapture.record_template(ctx, os, vol, details, flags)


# --- snapshot policies -------------------------------------------------------------


def _policy(ctx: Ctx, uuid: str | None, param: str = "id") -> SnapshotPolicy:
    """A policy whose volume the caller may change."""
    pol = ctx.get(SnapshotPolicy, uuid, param)
    vol = ctx.by_id(Volume, pol.volume_id)
    if vol is None or not ctx.can_see(vol):
        raise InvalidParameter(f"Unable to find SnapshotPolicy with id {uuid} (parameter {param})")
    return pol


def _check_policy(intervaltype: str, schedule: str, timezone: str, maxsnaps: int) -> None:
    """Validate a policy's interval, schedule, time zone and retention."""
    if intervaltype not in snappolicies.INTERVALS:
        raise InvalidParameter("Parameter intervaltype must be HOURLY, DAILY, WEEKLY or MONTHLY")
    snappolicies.parse_schedule(intervaltype, schedule)
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidParameter(f"Parameter timezone: {timezone!r} is not a known time zone") from None
    if maxsnaps < 1:
        raise InvalidParameter("Parameter maxsnaps must be 1 or more")


@api(
    "createSnapshotPolicy",
    "Creates a recurring snapshot schedule for a volume",
    "snapshotpolicy",
    [
        Param("volumeid", "uuid", required=True, description="the volume"),
        Param("intervaltype", required=True, description="HOURLY, DAILY, WEEKLY or MONTHLY"),
        Param("schedule", required=True, description="MM, MM:HH or MM:HH:DD"),
        Param("maxsnaps", "integer", required=True, description="how many snapshots to keep"),
        Param("timezone", required=True, description="the time zone of the schedule"),
        Param("fordisplay", "boolean", description="unused"),
        Param("tags", "map", description="unused"),
    ],
)
def create_policy(ctx: Ctx) -> dict[str, Any]:
    """Add (or replace, for the same interval) a volume's snapshot policy."""
    a = ctx.args
    vol = ctx.get(Volume, a.volumeid, "volumeid")
    ctx.require(vol, f"volume {vol.name}")
    kind = a.intervaltype.upper()
    _check_policy(kind, a.schedule, a.timezone, a.maxsnaps)
    pol = snappolicies.save(ctx, vol, kind, a.schedule, a.timezone, a.maxsnaps)
    return {"snapshotpolicy": policy_view(ctx, pol)}


@api(
    "listSnapshotPolicies",
    "Lists snapshot policies",
    "snapshotpolicy",
    [
        Param("volumeid", "uuid", description="the volume"),
        Param("id", "uuid", description="the policy"),
        Param("fordisplay", "boolean", description="unused"),
    ],
    paged=True,
)
def list_policies(ctx: Ctx) -> dict[str, Any]:
    """List the policies of volumes the caller may see."""
    if not ctx.args.volumeid and not ctx.args.id:
        raise InvalidParameter("Parameter volumeid (or id) is required")
    stmt = select(SnapshotPolicy)
    if ctx.args.volumeid:
        stmt = stmt.where(SnapshotPolicy.volume_id == ctx.get(Volume, ctx.args.volumeid, "volumeid").id)
    rows, _ = ctx.page(stmt, SnapshotPolicy, keyword=("intervaltype",))
    rows = [p for p in rows if ctx.can_see(ctx.by_id(Volume, p.volume_id))]
    return list_body("snapshotpolicy", [policy_view(ctx, p) for p in rows], len(rows))


@api(
    "updateSnapshotPolicy",
    "Updates a snapshot policy",
    "snapshotpolicy",
    [
        Param("id", "uuid", required=True, description="the policy"),
        Param("schedule", description="MM, MM:HH or MM:HH:DD"),
        Param("maxsnaps", "integer", description="retention"),
        Param("timezone", description="time zone"),
        Param("intervaltype", description="interval"),
        Param("fordisplay", "boolean", description="unused"),
        Param("customid", description="unused"),
    ],
)
def update_policy(ctx: Ctx) -> dict[str, Any]:
    """Change a policy's schedule, retention or time zone."""
    pol = _policy(ctx, ctx.args.id)
    a = ctx.args
    kind = (a.intervaltype or pol.intervaltype).upper()
    schedule, tz = a.schedule or pol.schedule, a.timezone or pol.timezone
    maxsnaps = a.maxsnaps if a.maxsnaps is not None else pol.maxsnaps
    _check_policy(kind, schedule, tz, maxsnaps)
    return {"snapshotpolicy": policy_view(ctx, snappolicies.change(ctx, pol, kind, schedule, tz, maxsnaps))}


@api(
    "deleteSnapshotPolicies",
    "Deletes snapshot policies",
    "success",
    [
        Param("id", "uuid", description="a policy"),
        Param("ids", "uuidlist", description="several policies"),
    ],
)
def delete_policies(ctx: Ctx) -> dict[str, Any]:
    """Remove one or more policies (their snapshots stay)."""
    ids = ([ctx.args.id] if ctx.args.id else []) + list(ctx.args.ids or [])
    if not ids:
        raise InvalidParameter("Parameter id or ids is required")
    snappolicies.delete(ctx, [_policy(ctx, uuid, "ids" if uuid != ctx.args.id else "id") for uuid in ids])
    return {"success": True}
