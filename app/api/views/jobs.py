"""The asyncjobs response object (queryAsyncJobResult, listAsyncJobs)."""

from __future__ import annotations

from typing import Any

from virga.api.response import clean
from virga.context import Ctx
from virga.models import Account, User


def job_view(ctx: Ctx, job: Any) -> dict[str, Any]:
    """An asyncjobs response object (from a model row or a Core row with the same attribute names)."""
    user = ctx.by_id(User, job.user_id)
    acct = ctx.by_id(Account, job.account_id)
    out: dict[str, Any] = {
        "jobid": job.uuid,
        "accountid": acct.uuid if acct else None,
        "account": acct.name if acct else None,
        "userid": user.uuid if user else None,
        "cmd": job.cmd,
        "jobstatus": job.status,
        "jobprocstatus": job.procstatus,
        "jobresultcode": job.resultcode,
        "jobresulttype": job.resulttype,
        "jobinstancetype": job.instancetype or None,
        "jobinstanceid": job.instance_uuid or None,
        "created": job.created,
        "completed": job.completed,
    }
    if job.status != 0 and job.result is not None:
        out["jobresult"] = job.result
    return clean(out)
