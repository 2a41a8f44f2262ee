"""Network offerings: create, update and delete (validated by the command)."""

from __future__ import annotations

from typing import Any

from virga.context import Ctx
from virga.models import NetworkOffering, utcnow
from virga.services.states import EnabledState, transition


def create_offering(ctx: Ctx, fields: dict[str, Any]) -> NetworkOffering:
    """Record a network offering."""
    o = NetworkOffering(**fields)
    ctx.db.add(o)
    ctx.db.flush()
    return o


def update_offering(
    ctx: Ctx,
    o: NetworkOffering,
    *,
    name: str | None,
    displaytext: str | None,
    state: str | None,
    availability: str | None,
) -> NetworkOffering:
    """Rename, enable/disable or change the availability of a network offering."""
    if name:
        o.name = name
    if displaytext is not None:
        o.displaytext = displaytext
    if state:
        transition(o, "enable" if state == EnabledState.ENABLED else "disable")
    if availability:
        o.availability = availability
    ctx.db.add(o)
    return o


def delete_offering(ctx: Ctx, o: NetworkOffering) -> dict[str, Any]:
    """Mark a network offering removed (and Disabled)."""
    transition(o, "disable")
    o.removed = utcnow()
    ctx.db.add(o)
    return {"success": True}
