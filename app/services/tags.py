"""Resource tags: key/value pairs recorded on resources and removed from them."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from virga.context import Ctx
from virga.errors import InvalidParameter
from virga.jobs.engine import JobRun, Restart, job_body
from virga.models import ResourceTag, utcnow


def add(ctx: Ctx, kind: str, rows: list[Any], pairs: list[tuple[str, str]]) -> None:
    """Record tags on resources of one kind, refusing a key a resource already has."""
    for row in rows:
        for key, value in pairs:
            dup = ctx.db.exec(
                select(ResourceTag).where(
                    ResourceTag.resourcetype == kind,
                    ResourceTag.key == key,
                    ResourceTag.resource_id == row.id,
                    ResourceTag.removed == None,
                )
            ).first()
            if dup is not None:
                raise InvalidParameter(f"{kind} {row.uuid} already has a tag with key {key} (parameter tags)")
            ctx.db.add(
                ResourceTag(
                    key=key,
                    value=value,
                    resourcetype=kind,
                    resource_id=row.id,
                    resource_uuid=row.uuid,
                    account_id=getattr(row, "account_id", None),
                    domain_id=getattr(row, "domain_id", None),
                )
            )


def remove(ctx: Ctx, kind: str, rows: list[Any], wanted: list[dict[str, Any]]) -> None:
    """Remove the tags of resources that match the wanted keys (and values), or all of them when none is given."""
    stmt = select(ResourceTag).where(
        ResourceTag.resourcetype == kind,
        ResourceTag.removed == None,
        col(ResourceTag.resource_id).in_([r.id for r in rows]),
    )
    for tag in ctx.db.exec(stmt):
        if wanted and not any(w.get("key") == tag.key and w.get("value") in (None, "", tag.value) for w in wanted):
            continue
        tag.removed = utcnow()
        ctx.db.add(tag)


@job_body("createTags", restart=Restart.FAIL)
@job_body("deleteTags", restart=Restart.FAIL)
async def done(run: JobRun) -> dict[str, Any]:
    """The tags were written with the request (nothing changes outside the database); the job reports success."""
    return {"success": True}
