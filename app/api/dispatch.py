"""Dispatch one API request: authenticate, check the role, validate, run, and wrap the answer."""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlmodel import Session
from virga.api import auth
from virga.api.registry import Command, lookup, parse_args
from virga.api.response import envelope, error_body
from virga.context import Ctx
from virga.db import insert_row
from virga.errors import AuthError, CloudError, InternalError, InvalidParameter, UnknownCommand
from virga.jobs.pending import Pending
from virga.models import AsyncJob
from virga.services.throttle import THROTTLE

if TYPE_CHECKING:
    from virga.core import VirgaApp

log = logging.getLogger(__name__)
NOT_AVAILABLE = "The given command does not exist or it is not available for the user"


@dataclass
class Reply:
    """A dispatched request's outcome."""

    status: int
    body: dict[str, Any]
    sessionkey: str | None = None


def _authenticate(s: Session, raw: dict[str, str], cookie: str | None) -> auth.Principal:
    """Find the calling user, account and domain from a sessionkey or an API key signature."""
    lowered = {k.lower(): v for k, v in raw.items()}
    if "apikey" in lowered or "signature" in lowered:
        return auth.verify_signed(s, raw)
    if cookie or "sessionkey" in lowered:  # both needed, and equal: the parameter is CloudStack's CSRF guard
        return auth.verify_session(s, lowered.get("sessionkey"), cookie)
    raise AuthError(auth.BAD_CREDENTIALS)


async def dispatch(app: VirgaApp, raw: dict[str, str], cookie: str | None = None) -> Reply:
    """Run one request and return its HTTP status and envelope."""
    name = raw.get("command") or next((v for k, v in raw.items() if k.lower() == "command"), "")
    cmd = lookup(name) if name else None
    try:
        if cmd is None:
            raise UnknownCommand(NOT_AVAILABLE if name else "Missing parameter command")
        with app.db.session() as s:
            return await _run(app, s, cmd, raw, cookie)
    except CloudError as err:
        return Reply(err.code, error_body(cmd.name if cmd else None, err))
    except Exception as exc:
        log.exception("command %s failed", name)
        internal = InternalError(f"Internal error executing command {name}: {type(exc).__name__}: {exc}")
        return Reply(internal.code, error_body(cmd.name if cmd else None, internal))


async def _run(app: VirgaApp, s: Session, cmd: Command, raw: dict[str, str], cookie: str | None) -> Reply:
    """Authenticate, authorise, validate and execute within one transaction."""
    if not cmd.auth:
        ctx = Ctx(app=app, db=s, user=None, account=None, domain=None, command=cmd.name)  # type: ignore[arg-type]
    else:
        user, account, domain = _authenticate(s, raw, cookie)
        THROTTLE.check(s, account.id or 0)  # 429 over api.throttling.max calls per interval (when enabled)
        ctx = Ctx(app=app, db=s, user=user, account=account, domain=domain, command=cmd.name)
        if ctx.role not in cmd.roles:
            raise UnknownCommand(NOT_AVAILABLE)
    ctx.args = parse_args(cmd, raw)
    result = cmd.handler(ctx)
    if inspect.isawaitable(result):
        result = await result
    if isinstance(result, Pending):
        return _queue(app, s, ctx, cmd, result)
    s.commit()
    sessionkey = result.get("sessionkey") if cmd.name == "login" else None
    return Reply(200, envelope(cmd.name, result), sessionkey)


def _queue(app: VirgaApp, s: Session, ctx: Ctx, cmd: Command, pending: Pending) -> Reply:
    """Persist the job with the synchronous part's changes, then wake the workers."""
    if not cmd.is_async:
        raise InvalidParameter(f"{cmd.name} is not an asynchronous command")
    job = insert_row(
        s,
        AsyncJob,
        {  # a Core insert: every async call writes one, nothing reads it back here
            "cmd": f"virga.api.{cmd.name}",
            "command": cmd.name,
            "params": pending.params,
            "account_id": ctx.account.id,
            "domain_id": ctx.account.domain_id,
            "user_id": ctx.user.id,
            "instancetype": pending.instancetype,
            "instance_uuid": pending.instance_uuid,
            "state": "queued",
        },
    )
    s.commit()
    app.jobs.notify()
    body: dict[str, Any] = {"jobid": job.uuid}
    if pending.with_id and pending.instance_uuid:
        body["id"] = pending.instance_uuid
    return Reply(200, envelope(cmd.name, body))
