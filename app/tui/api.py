"""The TUI's one door to the API: calls, jobs, the learning log and error notifications."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from virga.client import ApiError, VirgaClient

if TYPE_CHECKING:
    from virga.tui.app import VirgaTUI

SECRET_PARAMS = {"password", "secretkey", "signature", "apiKey", "apikey", "sessionkey"}


class ConnectionLost(Exception):
    """The server did not answer (network error or server down)."""


@dataclass
class Lesson:
    """One API call as the learning pane shows it."""

    command: str
    cli: str
    request: str
    outcome: str = "…"


@dataclass
class LearnLog:
    """The last API calls made by the user's actions (not the background refreshes)."""

    entries: list[Lesson] = field(default_factory=list)
    limit: int = 50

    def add(self, lesson: Lesson) -> None:
        """Append one call, forgetting the oldest past the limit."""
        self.entries.append(lesson)
        del self.entries[: -self.limit]


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
        lesson = Lesson(command, cli_line(command, params), "")
        self.learn.add(lesson)
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
