"""The TUI's one door to the API: calls, jobs, the learning log and error notifications."""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

import httpx
from virga.client import ApiError, VirgaClient

if TYPE_CHECKING:
    from virga.tui.app import VirgaTUI

SECRET_PARAMS = {"password", "secretkey", "signature", "apiKey", "apikey", "sessionkey"}
CREDENTIALS = {"apikey", "signature", "sessionkey"}  # shown as **** in the request until revealed (F3)


class ConnectionLost(Exception):
    """The server did not answer (network error or server down)."""


@dataclass
class Lesson:
    """One API call as the learning pane shows it."""

    command: str
    cli: str
    request: str
    outcome: str = "…"
    params: dict[str, Any] = field(default_factory=dict)
    method: str = "POST"

    @property
    def cmk(self) -> str:
        """The same call for CloudStack's cmk."""
        return cmk_line(self.command, self.params)

    def shown_request(self, reveal: bool = False) -> str:
        """The request as sent: method, path and form body, the API key and signature masked unless revealed."""
        path, _, query = self.request.partition("?")
        pairs = parse_qsl(query, keep_blank_values=True)
        if not reveal:
            pairs = [(k, "****" if k.lower() in CREDENTIALS else v) for k, v in pairs]
        body = urlencode(pairs, safe="*,:/")
        return f"{self.method} {path}  body: {body}" if self.method == "POST" else f"{self.method} {path}?{body}"


@dataclass
class LearnLog:
    """The API calls made by the user's actions (not the background refreshes), also kept in a session file."""

    entries: list[Lesson] = field(default_factory=list)
    limit: int = 500
    path: Path | None = None  # one JSON line per finished call, for `virga learn export`
    started: float = field(default_factory=time.time)

    def add(self, lesson: Lesson) -> None:
        """Append one call, forgetting the oldest past the limit."""
        self.entries.append(lesson)
        del self.entries[: -self.limit]

    def start_session(self) -> None:
        """A new TUI session: its file starts empty (private to the user)."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path.write_text("")
        self.path.chmod(0o600)

    def record(self, lesson: Lesson) -> None:
        """Write a finished call to the session file (secrets left out)."""
        if self.path is None:
            return
        params = {k: (None if k in SECRET_PARAMS else v) for k, v in lesson.params.items()}
        line = {"command": lesson.command, "params": params, "outcome": lesson.outcome, "time": time.time()}
        with self.path.open("a") as fh:
            fh.write(json.dumps(line, default=str) + "\n")


def cmk_line(command: str, params: dict[str, Any]) -> str:
    """The equivalent CloudStack cmk command line: `cmk deploy virtualmachine zoneid=...` (secrets masked)."""
    verb = ""
    for i, ch in enumerate(command):
        if ch.isupper():
            verb, noun = command[:i], command[i:].lower()
            break
    else:
        verb, noun = command, ""
    words = ["cmk", verb, *([noun] if noun else [])]
    return " ".join(words + cli_line(command, params).split(" ")[3:])


def cli_line(command: str, params: dict[str, Any]) -> str:
    """The equivalent `virga api` command line for a call (secrets masked)."""
    parts = ["virga", "api", command]
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, list | tuple):
            value = ",".join(str(v) for v in value)
        shown = "****" if key in SECRET_PARAMS else str(value)
        parts.append(shlex.quote(f"{key}={shown}"))
    return " ".join(parts)


def mask_request(url: str) -> str:
    """Hide passwords in a request URL (the signature is public by design)."""
    out = []
    for piece in url.split("&"):
        name, _, _value = piece.partition("=")
        out.append(f"{name}=****" if name.lower() in ("password",) else piece)
    return "&".join(out)


class Api:
    """Wrap the VirgaClient: errors become notifications, lost connections a banner."""

    def __init__(self, client: VirgaClient, app: VirgaTUI) -> None:
        """Keep the client and the app (for notifications and the learning pane)."""
        self.client = client
        self.app = app
        self.learn = LearnLog()
        self.reveal = False  # the learning pane shows the API key and signature

    async def fetch(self, command: str, **params: Any) -> dict[str, Any] | None:
        """A background read: None (and a notification) on an API error, quiet while disconnected."""
        try:
            body = await self._call(command, params)
        except ApiError as err:
            self.app.api_error(err)
            return None
        except ConnectionLost:
            return None
        self.app.set_connected(True)
        return body

    async def _call(self, command: str, params: dict[str, Any]) -> dict[str, Any]:
        """Call the client, turning transport failures into ConnectionLost."""
        try:
            return await self.client.call(command, **params)
        except httpx.TransportError as err:
            self.app.set_connected(False, str(err) or type(err).__name__)
            raise ConnectionLost(str(err)) from err

    async def act(
        self,
        command: str,
        label: str = "",
        quiet: bool = False,
        progress: Callable[[int], None] | None = None,
        errors: list[ApiError] | None = None,
        **params: Any,
    ) -> dict[str, Any] | None:
        """A user action: log it for learning, wait for its job, notify its outcome; None on failure.

        With `errors`, an API error is appended there instead of notified (a form shows it beside its field).
        """
        lesson = Lesson(command, cli_line(command, params), "", params=dict(params))
        self.learn.add(lesson)
        try:
            return await self._act(lesson, command, label, quiet, progress, errors, params)
        finally:
            self.learn.record(lesson)

    async def _act(
        self,
        lesson: Lesson,
        command: str,
        label: str,
        quiet: bool,
        progress: Callable[[int], None] | None,
        errors: list[ApiError] | None,
        params: dict[str, Any],
    ) -> dict[str, Any] | None:
        """act()'s call, its job and its outcome in the lesson."""
        try:
            body = await self._call(command, params)
            lesson.request = mask_request(self.client.last_request)
            self.app.learn_changed()
            if "jobid" in body and len(body) <= 2:
                body = await self._wait(body["jobid"], progress)
        except ApiError as err:
            lesson.request = lesson.request or mask_request(self.client.last_request)
            lesson.outcome = f"error {err.code}: {err.text}"
            self.app.learn_changed()
            if errors is not None:
                errors.append(err)
            else:
                self.app.api_error(err)
            return None
        except ConnectionLost:
            lesson.outcome = "connection lost"
            self.app.learn_changed()
            return None
        lesson.outcome = "ok"
        self.app.learn_changed()
        if not quiet:
            self.app.notify(f"{label or command}: done", title=command, timeout=4)
        return body

    async def _wait(self, jobid: str, progress: Callable[[int], None] | None) -> dict[str, Any]:
        """Wait for a job, reporting jobprocstatus/progress to the caller."""

        def report(job: dict[str, Any]) -> None:
            """Forward a job's progress percentage."""
            if progress is not None:
                pct = 100 if job.get("jobstatus") else int(job.get("jobprocstatus") or 0)
                progress(pct)

        try:
            return await self.client.wait(jobid, progress=report, interval=0.1)
        except httpx.TransportError as err:
            self.app.set_connected(False, str(err))
            raise ConnectionLost(str(err)) from err

    async def items(self, command: str, item: str, **params: Any) -> list[dict[str, Any]] | None:
        """A background list read: the items, or None when it failed."""
        body = await self.fetch(command, **params)
        return None if body is None else list(body.get(item, []))
