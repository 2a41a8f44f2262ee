"""A live table of one resource with its actions (forms, confirmation, bulk, job progress)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from functools import partial
from typing import Any, TypeVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static
from virga.client import ApiError
from virga.tui.catalog.base import Action, Resource
from virga.tui.screens.base import PaletteEntry, VirgaScreen
from virga.tui.screens.confirm import ConfirmScreen
from virga.tui.screens.form import FormScreen
from virga.tui.widgets.resource_table import ResourceTable

S = TypeVar("S", bound="ActionScreen")


def label_of(item: dict[str, Any]) -> str:
    """A short name for an item in messages."""
    for key in ("name", "displayname", "username", "ipaddress", "cmd", "id"):
        if item.get(key):
            return str(item[key])
    return "item"


class ActionScreen(VirgaScreen):
    """A screen that runs a resource's actions on some items (a table's chosen rows, a detail view's object)."""

    resource: Resource
    running: dict[str, int]
    extra: dict[str, Any] = {}  # noqa: RUF012 - the list filters of the screen (read only)

    def targets(self) -> list[dict[str, Any]]:
        """The items an action applies to."""
        return []

    def after_action(self) -> None:
        """Something changed: read again."""

    def update_status(self) -> None:
        """Show the running jobs."""

    # actions -------------------------------------------------------------
    def actions(self) -> tuple[Action, ...]:
        """The resource's actions."""
        return self.resource.actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide mutating actions in read-only mode."""
        if action == "act" and parameters:
            act = self.actions()[int(parameters[0])]  # type: ignore[call-overload]
            return not (act.mutating and self.tui.readonly)
        return True

    def action_act(self, index: int) -> None:
        """Run the index-th action."""
        self.execute_action(self.actions()[index])

    @work(exit_on_error=False)
    async def execute_action(self, act: Action) -> None:
        """Ask for fields (the form stays open until the call succeeds) and confirmation, run on every item."""
        if act.mutating and self.tui.readonly:
            self.notify("read-only mode: actions are disabled", severity="warning")
            return
        items = self.targets() if act.needs_item else [{}]
        if not items:
            self.notify(f"{act.label}: select a row first", severity="warning")
            return
        names = ", ".join(label_of(i) for i in items[:5]) + (" …" if len(items) > 5 else "")
        if act.fields:

            async def run(values: dict[str, Any]) -> str | None:
                """Confirm, call; the first error's text (the form shows it), "" when not confirmed."""
                if act.confirm and not await self.app.push_screen_wait(ConfirmScreen(f"{act.label} {names}?")):
                    return ""
                errors: list[ApiError] = []
                await self.perform(act, items, values, errors)
                self.after_action()
                return f"{errors[0].text} (error {errors[0].code})" if errors else None

            title = f"{act.label} ({act.command})"
            await self.app.push_screen_wait(FormScreen(title, act.fields, run=run, item=items[0]))
            return
        if act.confirm and not await self.app.push_screen_wait(ConfirmScreen(f"{act.label} {names}?")):
            return
        await self.perform(act, items, {}, None)
        self.after_action()

    async def perform(
        self, act: Action, items: list[dict[str, Any]], values: dict[str, Any], errors: list[ApiError] | None
    ) -> None:
        """Run the command once per item, concurrently."""
        context = {k: self.extra[k] for k in act.context if k in self.extra}
        await asyncio.gather(
            *(self.run_one(act, {**act.args(i), **context, **values}, label_of(i) if i else "", errors) for i in items)
        )

    async def run_one(
        self, act: Action, params: dict[str, Any], name: str, errors: list[ApiError] | None = None
    ) -> dict[str, Any] | None:
        """One API call with its job's progress in the status line."""
        label = f"{act.label} {name}".strip()

        def progress(pct: int) -> None:
            """Show the job's progress."""
            self.running[label] = pct
            self.update_status()

        self.running[label] = 0
        self.update_status()
        try:
            return await self.api.act(act.command, label, progress=progress, errors=errors, **params)
        finally:
            self.running.pop(label, None)
            self.update_status()

    def palette(self) -> Iterable[PaletteEntry]:
        """The resource's actions, for ctrl+p."""
        for i, act in enumerate(self.actions()):
            if not (act.mutating and self.tui.readonly):
                yield (
                    f"{self.resource.title}: {act.label}",
                    f"key {act.key} · {act.command}",
                    partial(self.action_act, i),
                )


class ResourceScreen(ActionScreen):
    """List a resource, refresh it in place, run its actions on the cursor row or the marked rows."""

    NAME = "resource"

    def __init__(self, resource: Resource, params: dict[str, Any] | None = None, context: str = "") -> None:
        """Show `resource`, optionally filtered by extra list parameters (a drill-down)."""
        super().__init__()
        self.resource = resource
        self.extra = params or {}
        self.heading = resource.title + (f" of {context}" if context else "")
        self.running: dict[str, int] = {}
        self.filter_note = ""
        self.reading = False  # a read is in flight
        self.reread = False  # something changed while it was: read again when it ends
        self.note = ""  # a passing message for the status line (what `y` copied)
        self.restored: dict[str, Any] = {}

    def body(self) -> ComposeResult:
        """The table and a status line."""
        yield ResourceTable(self.resource.columns(self.tui.clock), key=self.resource.key, id="table")
        yield Static("loading…", id="status")

    @property
    def table(self) -> ResourceTable:
        """The screen's table."""
        return self.query_one("#table", ResourceTable)

    def memo(self) -> dict[str, Any]:
        """Filter, sort and the cursor's row, to restore when Esc comes back here."""
        t = self.table
        return {
            "filter": (t.filter_text, t.filter_invert),
            "sort": (t.sort_col, t.sort_desc),
            "cursor": t.current_key(),
        }

    def restore(self, memo: dict[str, Any]) -> None:
        """Keep memo() for on_mount."""
        self.restored = memo

    def on_mount(self) -> None:
        """Load now and every few seconds."""
        self.sync_frame()
        t = self.table
        if self.restored:
            t.filter_text, t.filter_invert = self.restored.get("filter", ("", False))
            t.sort_col, t.sort_desc = self.restored.get("sort", (None, False))
            t.pending_cursor = self.restored.get("cursor")
        t.focus()
        self.refresh_data()
        self.poll(self.tui.refresh_interval, self.tick)

    def tick(self) -> None:
        """The periodic refresh: skipped while the previous read is still in flight."""
        if not self.reading:
            self.refresh_data()

    def refresh_data(self) -> None:
        """Read the list soon: at once, or after the read in flight (never cancelled half-way by a newer one)."""
        if self.reading:
            self.reread = True
            return
        self.reading, self.reread = True, False
        self.load()

    @work(group="refresh", exit_on_error=False)
    async def load(self) -> None:
        """Read the list and update the rows in place; read again if asked meanwhile."""
        try:
            params = {**self.resource.params, **self.extra}
            items = await self.api.items(self.resource.command, self.resource.item, **params)
            if items is not None:
                self.table.set_items(self.shape(items))
            self.update_status()
        finally:
            self.reading = False
        if self.reread:
            self.refresh_data()

    def shape(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Hook to reorder or complete items before display."""
        return items

    def update_status(self) -> None:
        """The count, the filter, the marks and the running jobs."""
        t = self.table
        parts = [
            f"{len(t.shown)}/{len(t.order)} {self.resource.title.lower()}"
            if t.loaded
            else f"{self.resource.title}: not loaded (see notification)"
        ]
        if self.note:  # right after the count: a narrow status line keeps it
            parts.append(self.note)
        if t.filter_text:
            parts.append(f"filter {'!' if t.filter_invert else ''}{t.filter_text}")
        if t.marks:
            parts.append(f"{len(t.marks)} marked")
        if t.sort_col is not None:
            parts.append(t.sort_label())
        parts += [f"{label} {pct}%" for label, pct in self.running.items()]
        left, right = t.hidden_columns() if t.size.width else (0, 0)
        if left or right:
            parts.append(f"{left + right} more columns ←→")
        if self.is_mounted:
            self.query_one("#status", Static).update(" · ".join(parts))

    def on_resource_table_changed(self, message: ResourceTable.Changed) -> None:
        """Sort, scroll or copy: the status line says so."""
        if message.note:
            self.note = message.note
            self.set_timer(6, self.clear_note)
        self.update_status()

    def clear_note(self) -> None:
        """The copy note is gone after a few seconds."""
        self.note = ""
        self.update_status()

    def current_filter(self) -> str:
        """The table's filter as typed after `/`."""
        t = self.table
        return ("!" if t.filter_invert else "") + t.filter_text if t.filter_text else ""

    def apply_filter(self, text: str, invert: bool) -> None:
        """Filter the table."""
        self.table.set_filter(text, invert)
        self.update_status()

    def targets(self) -> list[dict[str, Any]]:
        """The marked rows, or the cursor's row."""
        return self.table.chosen()

    def after_action(self) -> None:
        """Marks are done with; read again."""
        self.table.marks.clear()
        self.refresh_data()

    # navigation ----------------------------------------------------------
    def on_resource_table_selected(self, message: ResourceTable.Selected) -> None:
        """Enter opens the row's detail view: its fields, its actions and its related objects."""
        self.tui.open_detail(self.resource.name, message.item)

    def action_refresh_now(self) -> None:
        """Reload at once."""
        self.refresh_data()


def screen_class(resource: Resource, base: type[S]) -> type[S]:
    """A ResourceScreen subclass whose bindings are the resource's action keys."""
    bindings = [Binding(a.key, f"act({i})", a.label) for i, a in enumerate(resource.actions)]
    bindings.append(Binding("ctrl+r", "refresh_now", "Refresh", show=False))
    return type(f"{resource.title.replace(' ', '')}Screen", (base,), {"BINDINGS": bindings, "__module__": __name__})
