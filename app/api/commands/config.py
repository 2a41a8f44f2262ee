"""Global settings: listConfigurations, updateConfiguration."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_
from sqlmodel import col, select
from virga.api.registry import ROOT, Param, api
from virga.api.response import list_body
from virga.api.views.configurations import config_view
from virga.context import Ctx
from virga.errors import InvalidParameter
from virga.models import Configuration
from virga.services import settings


@api(
    "listConfigurations",
    "Lists global settings",
    "configuration",
    [
        Param("name", description="the setting"),
        Param("category", description="the category"),
        Param("zoneid", "uuid", description="unused: settings are global"),
        Param("clusterid", "uuid", description="unused"),
        Param("storageid", "uuid", description="unused"),
        Param("accountid", "uuid", description="unused"),
        Param("domainid", "uuid", description="unused"),
    ],
    roles=ROOT,
    paged=True,
)
def list_configurations(ctx: Ctx) -> dict[str, Any]:
    """List settings by name, category or keyword."""
    a = ctx.args
    stmt = select(Configuration)
    if a.name:
        stmt = stmt.where(Configuration.name == a.name)
    if a.category:
        stmt = stmt.where(func.lower(Configuration.category) == a.category.lower())
    if a.keyword:
        like = f"%{a.keyword}%"
        stmt = stmt.where(or_(col(Configuration.name).ilike(like), col(Configuration.description).ilike(like)))
    count = ctx.db.exec(select(func.count()).select_from(stmt.subquery())).one()
    stmt = stmt.order_by(Configuration.name)
    size = a.pagesize or 500
    if size != -1:
        stmt = stmt.offset(((a.page or 1) - 1) * size).limit(size)
    return list_body("configuration", [config_view(c) for c in ctx.db.exec(stmt)], int(count))


@api(
    "updateConfiguration",
    "Updates a global setting",
    "configuration",
    [
        Param("name", required=True, description="the setting"),
        Param("value", description="the new value"),
        Param("zoneid", "uuid", description="unused"),
        Param("clusterid", "uuid", description="unused"),
        Param("storageid", "uuid", description="unused"),
        Param("accountid", "uuid", description="unused"),
        Param("domainid", "uuid", description="unused"),
    ],
    roles=ROOT,
)
def update_configuration(ctx: Ctx) -> dict[str, Any]:
    """Change a setting (an absent value resets it to its default)."""
    c = ctx.db.get(Configuration, ctx.args.name)
    if c is None:
        raise InvalidParameter(f"Unknown setting {ctx.args.name} (parameter name)")
    return {"configuration": config_view(settings.update_setting(ctx.db, c, ctx.args.value))}
