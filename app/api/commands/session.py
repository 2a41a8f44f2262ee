"""login/logout, listApis, listCapabilities and the async job queries."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC
from typing import Any

from sqlmodel import col, select
from virga.api import auth
from virga.api.registry import Param, api, commands
from virga.api.response import list_body
from virga.api.views.jobs import job_view
from virga.context import Ctx
from virga.errors import AuthError, InvalidParameter
from virga.models import Account, AsyncJob, Domain, User
from virga.services import asyncjobs, lockout
from virga.services.states import AccountState, UserState


@api(
    "login",
    "Logs a user in and returns a session key",
    "login",
    [
        Param("username", required=True, description="the user name"),
        Param("password", required=True, description="the password"),
        Param("domain", description="the domain path (default /)"),
        Param("domainId", "uuid", description="domain id"),
    ],
    auth=False,
)
def login(ctx: Ctx) -> dict[str, Any]:
    """Check a user's password and open a session."""
    a = ctx.args
    if a.domainid:
        dom = ctx.db.exec(select(Domain).where(Domain.uuid == a.domainid)).first()
    else:
        name = (a.domain or "/").strip().strip("/")
        name = "" if name == "ROOT" else name.removeprefix("ROOT/")
        path = f"/{name}/" if name else "/"
        dom = ctx.db.exec(select(Domain).where(Domain.path == path)).first()
    user = None
    if dom is not None:
        user = ctx.db.exec(
            select(User)
            .join(Account, col(Account.id) == User.account_id)
            .where(User.username == a.username, Account.domain_id == dom.id, User.removed == None)
        ).first()
    ok = user is not None and bool(user.password_hash) and auth.check_password(a.password, user.password_hash)
    if not ok:
        if user is not None:
            lockout.login_failed(ctx.db, user)  # counted and committed: the refusal rolls back the rest
        raise AuthError("Failed to authenticate user " + a.username + "; please provide valid credentials")
    assert user is not None
    acct = ctx.db.get(Account, user.account_id)
    if acct is None or user.state != UserState.ENABLED or acct.state != AccountState.ENABLED:
        raise AuthError("User " + a.username + " is disabled or locked")
    lockout.login_succeeded(ctx.db, user)
    sess = auth.open_session(ctx.db, user)
    assert dom is not None
    return {
        "username": user.username,
        "userid": user.uuid,
        "domainid": dom.uuid,
        "account": acct.name,
        "type": str(acct.accounttype),
        "firstname": user.firstname,
        "lastname": user.lastname,
        "timeout": str(int(auth.session_timeout(ctx.db).total_seconds())),
        "sessionkey": sess.sessionkey,
        "registered": "false",
    }


@api("logout", "Ends the caller's session", "logout", [])
def logout(ctx: Ctx) -> dict[str, Any]:
    """End the caller's session at once (a call signed with API keys ends all of the user's sessions)."""
    auth.close_sessions(ctx.db, ctx.user)
    return {"description": "success"}


@api(
    "listApis",
    "Lists the commands the caller may use, with their parameters",
    "api",
    [
        Param("name", description="one command"),
    ],
)
def list_apis(ctx: Ctx) -> dict[str, Any]:
    """Describe commands from the registry (what cmk sync reads)."""
    from virga.api.views.fields import response_fields

    out = []
    for cmd in commands().values():
        if ctx.role not in cmd.roles or (ctx.args.name and cmd.name.lower() != ctx.args.name.lower()):
            continue
        out.append(
            {
                "name": cmd.name,
                "description": cmd.description,
                "isasync": cmd.is_async,
                "since": cmd.since,
                "related": "",
                "type": "",
                "response": response_fields(cmd.response),
                "params": [
                    {
                        "name": p.name.lower(),
                        "description": p.description,
                        "type": p.type,
                        "required": p.required,
                        "length": p.length,
                        "since": cmd.since,
                        "related": "",
                    }
                    for p in cmd.params
                ],
            }
        )
    if ctx.args.name and not out:
        raise InvalidParameter(f"Unable to find API {ctx.args.name}")
    return list_body("api", out, len(out))


@api("listCapabilities", "Lists the cloud's capabilities", "capability", [])
def list_capabilities(ctx: Ctx) -> dict[str, Any]:
    """What this cloud supports."""
    from virga import __version__
    from virga.drivers.registry import hypervisors
    from virga.services.throttle import current_limits

    limits = current_limits(ctx.db)
    return {
        "capability": {
            "cloudstackversion": "4.19.0",
            "virgaversion": __version__,
            "securitygroupsenabled": True,
            "userpublictemplateenabled": True,
            "supportELB": "false",
            "projectinviterequired": False,
            "allowusercreateprojects": False,
            "customdiskofferingminsize": 1,
            "customdiskofferingmaxsize": 1024,
            "kvmsnapshotenabled": True,
            "allowuserviewdestroyedvm": True,
            "allowuserexpungerecovervm": False,
            "apilimitinterval": int(limits.interval),  # api.throttling.interval / max (max 0: not throttled)
            "apilimitmax": limits.max if limits.enabled else 0,
            "dynamicrolesenabled": True,
            "kubernetesserviceenabled": False,
            "hypervisors": ",".join(hypervisors()),
            "defaultuipagesize": 20,
        }
    }


# How long queryAsyncJobResult holds the answer for a job that has not ended yet, returning the moment it
# ends (this server's jobs only). The answer is the one CloudStack gives; it just comes when there is news,
# so a client polling often makes a few calls per job instead of dozens. Under any client's timeout.
HOLD_SECONDS = 0.5


@api(
    "queryAsyncJobResult",
    "Retrieves the status and result of an asynchronous job",
    "asyncjobs",
    [
        Param("jobid", "uuid", required=True, description="the ID of the job"),
    ],
)
async def query_job(ctx: Ctx) -> dict[str, Any]:
    """The job's status, and its result once finished (held up to HOLD_SECONDS while it runs here)."""
    job = _job(ctx)
    if job.status == 0 and HOLD_SECONDS > 0:
        job = await _held(ctx, job)
    return job_view(ctx, job)


def _job(ctx: Ctx) -> Any:
    """The job named by jobid as a Core row, if the caller may see it; else 431."""
    job = asyncjobs.job_row(ctx.db, ctx.args.jobid)
    if job is None or not _may_see_job(ctx, job):
        raise InvalidParameter(f"Unable to find job with id {ctx.args.jobid} (parameter jobid)")
    return job


async def _held(ctx: Ctx, job: Any) -> Any:
    """Wait (without a database connection) until the pending job ends or the hold is over, then re-read it."""
    fut = ctx.app.jobs.watch(job)
    if fut is None:
        return job
    try:
        if not ctx.app.jobs.running_here(job.id):  # it may have ended between the first read and the watch
            job = _job(ctx)
            if job.status != 0:
                return job
        asyncjobs.end_read(ctx.db)  # read-only: gives the connection back to the pool while waiting
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(fut), HOLD_SECONDS)
        return _job(ctx)
    finally:
        ctx.app.jobs.unwatch(job.id, fut)


def _may_see_job(ctx: Ctx, job: Any) -> bool:
    """Users see their account's jobs, domain admins their subtree's, root admins all."""
    if ctx.is_root:
        return True
    if ctx.role == "DomainAdmin":
        return ctx.domain_path(job.domain_id).startswith(ctx.domain.path)
    return job.account_id == ctx.account.id


@api(
    "listAsyncJobs",
    "Lists asynchronous jobs",
    "asyncjobs",
    [
        Param("startdate", "date", description="jobs created after this date"),
        Param("account", description="the account"),
        Param("domainid", "uuid", description="the domain"),
        Param("isrecursive", "boolean", description="subdomains"),
        Param("id", "uuid", description="unused"),
    ],
    paged=True,
)
def list_jobs(ctx: Ctx) -> dict[str, Any]:
    """List the caller's jobs (admins: everyone's with listall)."""
    stmt = ctx.scope(select(AsyncJob), AsyncJob)
    if ctx.args.startdate:
        start = ctx.args.startdate
        stmt = stmt.where(AsyncJob.created >= (start if start.tzinfo else start.replace(tzinfo=UTC)))
    rows, count = ctx.page(stmt, AsyncJob, keyword=("command",), order=col(AsyncJob.id).desc())
    return list_body("asyncjobs", [job_view(ctx, j) for j in rows], count)
