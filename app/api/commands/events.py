"""Events (the audit log) and alerts (the operator's to-do list)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, select
from virga.api.registry import ROOT, Param, api
from virga.api.response import list_body
from virga.api.views.events import alert_view, event_view
from virga.context import Ctx
from virga.errors import InvalidParameter
from virga.models import Alert, Event, User
from virga.services import events as svc
from virga.services.events import ALERT_TYPES

EVENT_TYPES = sorted(
    {
        "VM.CREATE",
        "VM.START",
        "VM.STOP",
        "VM.REBOOT",
        "VM.DESTROY",
        "VM.EXPUNGE",
        "VM.MIGRATE",
        "VM.UPGRADE",
        "VOLUME.CREATE",
        "VOLUME.ATTACH",
        "VOLUME.DETACH",
        "VOLUME.RESIZE",
        "VOLUME.MIGRATE",
        "VOLUME.DELETE",
        "SNAPSHOT.CREATE",
        "SNAPSHOT.DELETE",
        "SNAPSHOT.REVERT",
        "VMSNAPSHOT.CREATE",
        "VMSNAPSHOT.DELETE",
        "VMSNAPSHOT.REVERTTO",
        "TEMPLATE.CREATE",
        "TEMPLATE.DELETE",
        "NETWORK.CREATE",
        "NETWORK.DELETE",
        "DOMAIN.CREATE",
        "DOMAIN.DELETE",
        "ACCOUNT.CREATE",
        "ACCOUNT.DELETE",
        "ACCOUNT.DISABLE",
        "ACCOUNT.LOCK",
        "ACCOUNT.ENABLE",
        "USER.CREATE",
        "USER.DELETE",
        "REGISTER.SSH.KEYPAIR",
        "NET.IPASSIGN",
        "NET.IPRELEASE",
    }
)
LEVELS = ("INFO", "WARN", "ERROR")
RANGE = [
    Param("ids", "uuidlist", description="the ids"),
    Param("type", description="the type"),
    Param("startdate", "date", description="from this date"),
    Param("enddate", "date", description="to this date"),
]


def _utc(value: datetime) -> datetime:
    """A naive date as UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _events(ctx: Ctx, *, everything: bool = False) -> Any:
    """A select of the events the caller may see, filtered by type/level/dates/ids."""
    a = ctx.args
    if everything and ctx.role != "User":
        a["listall"] = True
    stmt = ctx.scope(select(Event), Event)
    if a.type:
        stmt = stmt.where(Event.type == a.type.upper())
    if a.level:
        if a.level.upper() not in LEVELS:
            raise InvalidParameter("Parameter level must be INFO, WARN or ERROR")
        stmt = stmt.where(Event.level == a.level.upper())
    if a.startdate:
        stmt = stmt.where(Event.created >= _utc(a.startdate))
    if a.enddate:
        end = _utc(a.enddate)
        stmt = stmt.where(
            Event.created <= (end.replace(hour=23, minute=59, second=59) if end.hour == end.minute == 0 else end)
        )
    if a.ids:
        stmt = stmt.where(col(Event.uuid).in_(a.ids))
    return stmt


@api(
    "listEvents",
    "Lists events",
    "event",
    [
        Param("id", "uuid", description="the event"),
        Param("type", description="the type"),
        Param("level", description="INFO, WARN or ERROR"),
        Param("startdate", "date", description="from"),
        Param("enddate", "date", description="to"),
        Param("account", description="the account"),
        Param("domainid", "uuid", description="the domain"),
        Param("isrecursive", "boolean", description="subdomains"),
        Param("duration", "integer", description="unused"),
        Param("entrytime", "integer", description="unused"),
        Param("startid", "uuid", description="unused"),
        Param("resourceid", description="events of a resource"),
        Param("resourcetype", description="with resourceid"),
    ],
    paged=True,
)
def list_events(ctx: Ctx) -> dict[str, Any]:
    """The caller's events (admins: their subtree's with listall), newest first."""
    stmt = _events(ctx)
    if ctx.args.resourceid:
        stmt = stmt.where(Event.resource_uuid == ctx.args.resourceid)
    rows, count = ctx.page(stmt, Event, keyword=("type", "description"), order=col(Event.id).desc())
    ctx.preload(User, {e.user_id for e in rows})
    return list_body("event", [event_view(ctx, e) for e in rows], count)


@api("listEventTypes", "Lists event types", "eventtype", [])
def list_event_types(ctx: Ctx) -> dict[str, Any]:
    """Every event type virga records."""
    return list_body("eventtype", [{"name": n} for n in EVENT_TYPES], len(EVENT_TYPES))


def _pick(ctx: Ctx, stmt: Any, model: Any) -> list[Any]:
    """Rows to archive or delete: filters are required, and named ids must all be visible."""
    a = ctx.args
    if not (a.ids or a.type or a.startdate or a.enddate):
        raise InvalidParameter("One of the parameters ids, type, startdate or enddate is required")
    rows = list(ctx.db.exec(stmt.where(model.removed == None)))
    if a.ids and len({r.uuid for r in rows}) != len(set(a.ids)):
        missing = sorted(set(a.ids) - {r.uuid for r in rows})
        raise InvalidParameter(f"Unable to find {model.__name__} with id {missing[0]} (parameter ids)")
    return rows


@api("archiveEvents", "Archives events (they leave listEvents)", "success", RANGE)
def archive_events(ctx: Ctx) -> dict[str, Any]:
    """Hide matching events from lists (kept in the database)."""
    svc.archive_events(ctx.db, _pick(ctx, _events(ctx, everything=True), Event))
    return {"success": True}


@api("deleteEvents", "Deletes events", "success", RANGE)
def delete_events(ctx: Ctx) -> dict[str, Any]:
    """Remove matching events for good."""
    svc.delete_events(ctx.db, [e.id for e in _pick(ctx, _events(ctx, everything=True), Event)])
    return {"success": True}


# --- alerts -------------------------------------------------------------------------


def _alerts(ctx: Ctx) -> Any:
    """A select of unarchived alerts filtered by type/name/dates/ids."""
    a = ctx.args
    stmt = select(Alert).where(Alert.archived == False)
    if a.type is not None:
        kind = str(a.type)
        value = int(kind) if kind.lstrip("-").isdigit() else ALERT_TYPES.get(kind.upper())
        if value is None:
            raise InvalidParameter(f"Parameter type: unknown alert type {kind}")
        stmt = stmt.where(Alert.type == value)
    if a.name:
        stmt = stmt.where(Alert.name == a.name)
    if a.startdate:
        stmt = stmt.where(Alert.created >= _utc(a.startdate))
    if a.enddate:
        stmt = stmt.where(Alert.created <= _utc(a.enddate))
    if a.ids:
        stmt = stmt.where(col(Alert.uuid).in_(a.ids))
    return stmt


@api(
    "listAlerts",
    "Lists alerts",
    "alert",
    [
        Param("id", "uuid", description="the alert"),
        Param("type", description="the type (number or name)"),
        Param("name", description="the alert name"),
    ],
    roles=ROOT,
    paged=True,
)
def list_alerts(ctx: Ctx) -> dict[str, Any]:
    """Unarchived alerts, newest first."""
    name = ctx.args.pop("name", None)
    stmt = _alerts(ctx)
    if name:
        stmt = stmt.where(Alert.name == name)
    rows, count = ctx.page(stmt, Alert, keyword=("subject", "description"), order=col(Alert.id).desc())
    return list_body("alert", [alert_view(a) for a in rows], count)


@api("archiveAlerts", "Archives alerts", "success", RANGE, roles=ROOT)
def archive_alerts(ctx: Ctx) -> dict[str, Any]:
    """Hide matching alerts from listAlerts."""
    svc.archive_alerts(ctx.db, _pick(ctx, _alerts(ctx), Alert))
    return {"success": True}


@api("deleteAlerts", "Deletes alerts", "success", RANGE, roles=ROOT)
def delete_alerts(ctx: Ctx) -> dict[str, Any]:
    """Remove matching alerts for good."""
    svc.delete_alerts(ctx.db, [a.id for a in _pick(ctx, _alerts(ctx), Alert)])
    return {"success": True}
