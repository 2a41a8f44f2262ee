"""Zones, pods and clusters: the writes (validated by the commands), and a cluster's imported inventory."""

from __future__ import annotations

from typing import Any, TypeVar

from virga.context import Ctx
from virga.models import Cluster, utcnow
from virga.services import importer

T = TypeVar("T")


def create(ctx: Ctx, model: type[T], fields: dict[str, Any]) -> T:
    """Record a zone or a pod."""
    row = model(**fields)
    ctx.db.add(row)
    ctx.db.flush()
    return row


def update(ctx: Ctx, row: T, changes: dict[str, Any]) -> T:
    """Set the given fields of a zone, pod or cluster."""
    for key, value in changes.items():
        setattr(row, key, value)
    ctx.db.add(row)
    return row


def delete(ctx: Ctx, row: Any) -> dict[str, Any]:
    """Mark an empty zone, pod or cluster removed."""
    row.removed = utcnow()
    ctx.db.add(row)
    return {"success": True}


def add_cluster(ctx: Ctx, fields: dict[str, Any], found: Any) -> Cluster:
    """Record a cluster and, for a discovered pool or vCenter, the inventory found there."""
    c = Cluster(**fields)
    ctx.db.add(c)
    ctx.db.flush()
    if found is not None:
        conn, inventory = found
        importer.record(ctx.db, c, conn, inventory, ctx.account)
    return c
