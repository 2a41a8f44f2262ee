"""Events and alerts: the audit log and the operator's to-do list."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import delete as sql_delete
from sqlmodel import Session, col
from virga.db import insert_row
from virga.models import Alert, Event, utcnow

ALERT_TYPES = {
    "MEMORY": 0,
    "CPU": 1,
    "STORAGE": 2,
    "STORAGE_ALLOCATED": 3,
    "PUBLIC_IP": 4,
    "PRIVATE_IP": 5,
    "HOST": 7,
    "USERVM": 8,
    "DOMAIN_ROUTER": 9,
    "MANAGEMENT_NODE": 13,
    "SYNC": 17,
}


def record_event(
    s: Session,
    type_: str,
    description: str,
    *,
    account_id: int | None = None,
    domain_id: int | None = None,
    user_id: int | None = None,
    level: str = "INFO",
    resource: Any = None,
    state: str = "Completed",
) -> None:
    """Write an event in the caller's transaction (a Core insert: events are written far more than read)."""
    insert_row(
        s,
        Event,
        {
            "type": type_,
            "description": description,
            "account_id": account_id,
            "domain_id": domain_id,
            "user_id": user_id,
            "level": level,
            "state": state,
            "resourcetype": type(resource).__name__ if resource is not None else "",
            "resource_uuid": getattr(resource, "uuid", "") if resource is not None else "",
        },
    )


def raise_alert(s: Session, kind: str, subject: str, description: str = "", **where: int | None) -> Alert:
    """Add an alert to the session."""
    alert = Alert(
        type=ALERT_TYPES.get(kind, 0),
        name=kind,
        subject=subject,
        description=description or subject,
        **cast("dict[str, Any]", where),  # the *_id columns it names
    )
    s.add(alert)
    return alert


def archive_events(s: Session, events: list[Event]) -> None:
    """archiveEvents: the events leave listEvents (kept in the database)."""
    now = utcnow()
    for e in events:
        e.removed = now
        s.add(e)


def delete_events(s: Session, ids: list[int | None]) -> None:
    """deleteEvents: the events are removed for good."""
    if ids:
        s.exec(sql_delete(Event).where(col(Event.id).in_(ids)))


def archive_alerts(s: Session, alerts: list[Alert]) -> None:
    """archiveAlerts: the alerts leave listAlerts."""
    for a in alerts:
        a.archived = True
        s.add(a)


def delete_alerts(s: Session, ids: list[int | None]) -> None:
    """deleteAlerts: the alerts are removed for good."""
    if ids:
        s.exec(sql_delete(Alert).where(col(Alert.id).in_(ids)))
