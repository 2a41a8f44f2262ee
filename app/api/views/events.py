"""The event and alert response objects."""

from __future__ import annotations

from typing import Any

from virga.api.response import clean
from virga.api.views.common import owner
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.models import Alert, Event, User

FIELDS.update(
    {
        "event": "id username type level description state created resourcetype resourceid account domainid domain "
        "domainpath",
        "eventtype": "name",
        "alert": "id type name subject description sent",
    }
)


def event_view(ctx: Ctx, e: Event) -> dict[str, Any]:
    """An event response object."""
    user = ctx.by_id(User, e.user_id)
    return clean(
        {
            "id": e.uuid,
            "username": user.username if user else None,
            "type": e.type,
            "level": e.level,
            "description": e.description,
            "state": e.state,
            "created": e.created,
            "resourcetype": e.resourcetype or None,
            "resourceid": e.resource_uuid or None,
            **owner(ctx, e),
        }
    )


def alert_view(a: Alert) -> dict[str, Any]:
    """An alert response object."""
    return clean(
        {
            "id": a.uuid,
            "type": a.type,
            "name": a.name or None,
            "subject": a.subject,
            "description": a.description,
            "sent": a.created,
        }
    )
