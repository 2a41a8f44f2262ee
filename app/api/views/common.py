"""Helpers shared by the serialisers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam
from sqlmodel import col, select
from virga.context import Ctx
from virga.models import Account, Domain, ResourceTag

TAGS = select(ResourceTag).where(
    ResourceTag.resourcetype == bindparam("rtype"),  # built once: lists run it
    col(ResourceTag.resource_id).in_(bindparam("ids", expanding=True)),
    ResourceTag.removed == None,
)


def ref(ctx: Ctx, model: Any, pk: int | None, prefix: str, label: str = "name") -> dict[str, Any]:
    """{prefix}id and {prefix}name of a related row, or nothing when there is none."""
    hit = ctx.ref_of(model, pk) if label == "name" else None
    if hit is not None:
        return {f"{prefix}id": hit[0], f"{prefix}name": hit[1]}
    row = ctx.by_id(model, pk)
    if row is None:
        return {}
    return {f"{prefix}id": row.uuid, f"{prefix}name": getattr(row, label)}


def owner(ctx: Ctx, row: Any) -> dict[str, Any]:
    """account, domainid and domain of an owned row."""
    acct = ctx.by_id(Account, getattr(row, "account_id", None))
    dom = ctx.by_id(Domain, getattr(row, "domain_id", None))
    out: dict[str, Any] = {}
    if acct is not None:
        out["account"] = acct.name
    if dom is not None:
        out.update(domainid=dom.uuid, domain=dom.name, domainpath=dom.path)
    return out


def preload_owners(ctx: Ctx, rows: list[Any]) -> None:
    """Load the accounts and domains of many rows in two queries."""
    ctx.preload(Account, {getattr(r, "account_id", None) for r in rows})
    ctx.preload(Domain, {getattr(r, "domain_id", None) for r in rows})


def tags_of(ctx: Ctx, resourcetype: str, rows: list[Any]) -> dict[int, list[dict[str, Any]]]:
    """Tags of many rows of one type, by row id."""
    ids = [r.id for r in rows]
    out: dict[int, list[dict[str, Any]]] = {}
    if not ids:
        return out
    for t in ctx.db.exec(TAGS, params={"rtype": resourcetype, "ids": ids}):
        out.setdefault(t.resource_id, []).append(
            {"key": t.key, "value": t.value, "resourcetype": resourcetype, "resourceid": t.resource_uuid}
        )
    return out


def gib(value: int) -> int:
    """Bytes from a size in GiB."""
    return value * 1024**3
