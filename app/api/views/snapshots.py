"""The snapshot and snapshotpolicy response objects."""

from __future__ import annotations

from typing import Any

from virga.api.response import clean
from virga.api.views.common import owner, ref, tags_of
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.models import AsyncJob, Snapshot, SnapshotPolicy, Volume, Zone
from virga.services.snappolicies import INTERVALS
from virga.services.states import SnapshotState

FIELDS.update(
    {
        "snapshot": "id name volumeid volumename volumetype snapshottype intervaltype state physicalsize virtualsize "
        "created zoneid zonename revertable locationtype tags jobid jobstatus account domainid domain domainpath",
        "snapshotpolicy": "id volumeid schedule intervaltype maxsnaps timezone fordisplay",
    }
)


def snapshot_view(ctx: Ctx, snap: Snapshot, jobs: dict[str, AsyncJob] | None = None) -> dict[str, Any]:
    """A snapshot response object."""
    vol = ctx.by_id(Volume, snap.volume_id)
    out = {
        "id": snap.uuid,
        "name": snap.name,
        "volumeid": vol.uuid if vol else None,
        "volumename": vol.name if vol else None,
        "volumetype": vol.type if vol else None,
        "snapshottype": snap.snapshottype,
        "intervaltype": snap.intervaltype,
        "state": snap.state,
        "physicalsize": snap.physicalsize,
        "virtualsize": snap.size,
        "created": snap.created,
        **ref(ctx, Zone, snap.zone_id, "zone"),
        **owner(ctx, snap),
        "locationtype": snap.locationtype,
        "revertable": bool(vol and vol.removed is None and snap.state == SnapshotState.BACKED_UP),
        "tags": tags_of(ctx, "Snapshot", [snap]).get(snap.id or 0, []),
    }
    job = (jobs or {}).get(snap.uuid)
    if job is not None:
        out.update(jobid=job.uuid, jobstatus=0)
    return clean(out)


def policy_view(ctx: Ctx, pol: SnapshotPolicy) -> dict[str, Any]:
    """A snapshotpolicy response object."""
    vol = ctx.by_id(Volume, pol.volume_id)
    return clean(
        {
            "id": pol.uuid,
            "volumeid": vol.uuid if vol else None,
            "schedule": pol.schedule,
            "intervaltype": INTERVALS.get(pol.intervaltype, 0),
            "maxsnaps": pol.maxsnaps,
            "timezone": pol.timezone,
            "fordisplay": True,
        }
    )


def snapshot_views(ctx: Ctx, rows: list[Snapshot]) -> list[dict[str, Any]]:
    """Snapshot response objects of job results."""
    return [snapshot_view(ctx, s) for s in rows]


RENDERERS = {Snapshot: ("snapshot", snapshot_views)}
