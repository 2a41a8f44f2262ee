"""Templates and ISOs: registering one follows its download with a progress bar until it is ready."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, ProgressBar
from virga.client import ApiError
from virga.tui.catalog.base import Action
from virga.tui.screens.resource import ResourceScreen, label_of

REGISTER = {"registerTemplate": "templatefilter", "registerIso": "isofilter"}
POLL = 0.5  # seconds between two reads of a download's status
PERCENT = re.compile(r"(\d{1,3})\s*%")


def download_state(item: dict[str, Any]) -> tuple[str, int]:
    """("ready" | "failed" | "running", percent) from a template's isready and status (pure)."""
    status = str(item.get("status") or "")
    if item.get("isready") or status.lower().startswith("download complete"):
        return "ready", 100
    if "fail" in status.lower() or "error" in status.lower():
        return "failed", 0
    found = PERCENT.search(status)
    return "running", min(100, int(found.group(1))) if found else 0


class TemplatesBase(ResourceScreen):
    """The template/ISO table with a download bar under it while a registration downloads."""

    DEFAULT_CSS = """
    TemplatesBase #download { height: 1; display: none; padding: 0 1; }
    TemplatesBase #download.active { display: block; }
    TemplatesBase #download Label { width: auto; margin-right: 2; }
    """

    def body(self) -> ComposeResult:
        """The table, the download bar and the status line."""
        widgets: Iterator[Any] = iter(super().body())
        yield next(widgets)
        with Horizontal(id="download"):
            yield Label("", id="download-label")
            yield ProgressBar(total=100, show_eta=False, id="download-bar")
        yield from widgets

    async def perform(
        self, act: Action, items: list[dict[str, Any]], values: dict[str, Any], errors: list[ApiError] | None
    ) -> None:
        """A registration is followed until its download ends (the form closes at once); others as usual."""
        if act.command not in REGISTER:
            await super().perform(act, items, values, errors)
            return
        body = await self.run_one(act, {**act.args({}), **values}, values.get("name", ""), errors)
        found = (body or {}).get(self.resource.item) or []
        item = found[0] if isinstance(found, list) and found else found
        if isinstance(item, dict) and item.get("id"):
            self.follow(REGISTER[act.command], item)

    @work(group="download", exit_on_error=False)
    async def follow(self, filter_param: str, item: dict[str, Any]) -> None:
        """Poll the item's status into the bar until it is ready or failed."""
        box = self.query_one("#download", Horizontal)
        label, bar = self.query_one("#download-label", Label), self.query_one("#download-bar", ProgressBar)
        name = label_of(item)
        box.add_class("active")
        try:
            state, pct = download_state(item)
            while state == "running":
                label.update(f"Downloading {name}: {item.get('status') or 'queued'}")
                bar.update(progress=pct)
                await asyncio.sleep(POLL)
                got = await self.api.items(
                    self.resource.command, self.resource.item, id=item["id"], **{filter_param: "all"}
                )
                if got is not None:
                    item = got[0] if got else {**item, "status": "removed before its download ended"}
                    state, pct = download_state(item) if got else ("failed", 0)
                self.refresh_data()
            bar.update(progress=pct)
        finally:
            box.remove_class("active")
        if state == "ready":
            self.notify(f"{name} is ready", title="download complete", timeout=5)
        else:
            self.notify(str(item.get("status")), title=f"{name}: download failed", severity="error", timeout=10)
