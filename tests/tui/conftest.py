"""TUI fixtures: the app against a real in-process management server, helpers for Pilot tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from textual.pilot import Pilot
from virga.client import VirgaClient
from virga.tui import VirgaTUI, make_app


def tui(client: VirgaClient, **kw: object) -> VirgaTUI:
    """A strict TUI (internal errors fail the test) refreshing fast, with no clock on screen."""
    kw.setdefault("refresh_interval", 0.3)
    kw.setdefault("wizard_when_empty", False)
    kw.setdefault("profiles_source", lambda: {"default": "lab", "profiles": {"lab": {"url": "", "username": "admin"}}})
    return make_app(client, strict=True, clock=lambda: None, **kw)  # type: ignore[arg-type]


async def until(pilot: Pilot[None], cond: Callable[[], object], timeout: float = 15.0) -> None:
    """Let the app run until cond() is true (fails the test after timeout)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.05)
