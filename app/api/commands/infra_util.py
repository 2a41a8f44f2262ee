"""TRANSITIONAL: the helpers that lived here moved by topic; this module re-exports them until every
importer uses the new places (parameter checks: virga.api.validators; catalog domain filters:
virga.api.catalog; job helpers: virga.services.simplejobs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel import select
from virga.api.catalog import domain_filter, visible_domains
from virga.api.validators import ipv4, one_of, positive, tag_list, unique_name
from virga.context import Ctx
from virga.errors import InvalidParameter
from virga.jobs.engine import JobBody, JobRun, Restart, job_body
from virga.services.simplejobs import pending, success_job

View = Callable[[Ctx, Any], dict[str, Any]]

__all__ = [
    "domain_filter",
    "echo_job",
    "ipv4",
    "one_of",
    "pending",
    "positive",
    "success_job",
    "tag_list",
    "unique_name",
    "visible_domains",
]


def echo_job(command: str, model: Any, key: str, view: View) -> JobBody:
    """TRANSITIONAL (use virga.services.simplejobs.echo_job, which returns a Ref): answer with the row's view."""

    @job_body(command, restart=Restart.FAIL)
    async def body(run: JobRun) -> dict[str, Any]:
        """Serialise the row the command changed."""
        with run.ctx() as ctx:
            row = ctx.db.exec(select(model).where(model.uuid == run.instance_uuid)).first()
            if row is None:
                raise InvalidParameter(f"{model.__name__} {run.instance_uuid} vanished")
            return {key: view(ctx, row)}

    return body
