"""Which domain-scoped catalog rows (offerings, network offerings...) a caller may use."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_
from virga.api.registry import DOMAIN_ADMIN
from virga.context import Ctx
from virga.models import Domain


def visible_domains(ctx: Ctx) -> list[int]:
    """Domains whose domain-scoped catalog entries the caller may use: its own and its ancestors
    (plus, for domain admins, its subtree)."""
    ids = ctx._ancestor_ids()
    if ctx.role == DOMAIN_ADMIN:
        ids += ctx.subtree_ids(ctx.domain)
    return ids


def domain_filter(ctx: Ctx, stmt: Any, model: Any) -> Any:
    """Restrict a select of catalog rows to public ones and those of the caller's domains."""
    if ctx.is_root:
        if ctx.args.get("domainid"):
            dom = ctx.get(Domain, ctx.args["domainid"], "domainid")
            return stmt.where(model.domain_id == dom.id)
        return stmt
    return stmt.where(or_(model.domain_id == None, model.domain_id.in_(visible_domains(ctx))))
