"""Helpers shared by the infrastructure and catalog commands (no commands here)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from sqlalchemy import or_
from sqlmodel import select
from virga.api.dispatch import Pending
from virga.api.registry import DOMAIN_ADMIN
from virga.context import Ctx
from virga.errors import InvalidParameter
from virga.jobs.engine import JobBody, JobRun, job_body
from virga.models import Domain

View = Callable[[Ctx, Any], dict[str, Any]]


def unique_name(ctx: Ctx, model: Any, name: str, what: str, **scope: Any) -> None:
    """Refuse (431) a second live row of a model with the same name within a scope."""
    stmt = select(model).where(model.name == name, model.removed == None)
    for key, value in scope.items():
        stmt = stmt.where(getattr(model, key) == value)
    if ctx.db.exec(stmt).first() is not None:
        raise InvalidParameter(f"A {what} named {name} already exists (parameter name)")


def ipv4(value: str | None, param: str) -> ipaddress.IPv4Address | None:
    """Parse an optional IPv4 address, or raise 431 naming the parameter."""
    if not value:
        return None
    try:
        return ipaddress.IPv4Address(value)
    except ValueError:
        raise InvalidParameter(f"Parameter {param}: {value!r} is not a valid IPv4 address") from None


def one_of(value: str | None, allowed: tuple[str, ...], param: str) -> str | None:
    """Match a value case-insensitively against allowed spellings; 431 naming the parameter."""
    if value is None:
        return None
    for item in allowed:
        if item.lower() == value.lower():
            return item
    raise InvalidParameter(f"Parameter {param} must be one of {', '.join(allowed)}, not {value!r}")


def positive(value: int | None, param: str, *, zero_ok: bool = False) -> int | None:
    """A number that must be positive (or zero); 431 naming the parameter."""
    if value is not None and (value < 0 or (value == 0 and not zero_ok)):
        raise InvalidParameter(f"Parameter {param} must be {'zero or more' if zero_ok else 'positive'}")
    return value


def tag_list(value: str | None) -> str:
    """Normalise a comma-separated tag list."""
    return ",".join(t.strip() for t in (value or "").split(",") if t.strip())


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


def pending(instancetype: str, row: Any, **params: Any) -> Pending:
    """An async command's hand-over for a row already written by the synchronous part."""
    return Pending(instancetype, row.uuid, {"id": row.uuid, **params})


def echo_job(command: str, model: Any, key: str, view: View) -> JobBody:
    """A job body that answers with the row's view (the change was made synchronously)."""

    @job_body(command)
    async def body(run: JobRun) -> dict[str, Any]:
        """Serialise the row the command changed."""
        with run.ctx() as ctx:
            row = ctx.db.exec(select(model).where(model.uuid == run.instance_uuid)).first()
            if row is None:
                raise InvalidParameter(f"{model.__name__} {run.instance_uuid} vanished")
            return {key: view(ctx, row)}

    return body


def success_job(command: str) -> JobBody:
    """A job body for an async delete whose work was done synchronously."""

    @job_body(command)
    async def body(run: JobRun) -> dict[str, Any]:
        """Report success."""
        return {"success": True}

    return body
