"""A modal form for an action's parameters: selects filled (and narrowed) from list commands, inline validation.

With a `run` callback the form stays open while the call runs: a failure keeps every value typed and shows
the error beside the field it names (or above the buttons), a success closes it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select
from virga.tui.catalog.base import Choice, Field
from virga.tui.widgets.field_form import FieldForm

if TYPE_CHECKING:
    from virga.tui.api import Api
    from virga.tui.app import VirgaTUI

Run = Callable[[dict[str, Any]], Awaitable[str | None]]  # values -> None on success, else the error text


def field_named(text: str, fields: tuple[Field, ...]) -> str | None:
    """The field an API error text names (its parameter name, or its label), if any (pure)."""
    low = text.lower()
    for f in fields:
        if re.search(rf"\b{re.escape(f.name.lower())}\b", low):
            return f.name
    for f in fields:
        if f.label and f.label.lower() in low:
            return f.name
    return None


def choice_params(ch: Choice, item: dict[str, Any], values: dict[str, str], chosen: dict[str, dict[str, Any]]) -> dict:
    """A choice's list parameters, narrowed by the object acted on and what the form has chosen (pure)."""
    params = dict(ch.params)
    for param, src in ch.where.items():
        head, _, attr = src.partition(".")
        if head == "item":
            value = item.get(attr)
        elif attr:
            value = (chosen.get(head) or {}).get(attr)
        else:
            value = values.get(head)
        if value not in (None, ""):
            params[param] = value
    return params


class FormScreen(ModalScreen[dict[str, Any] | None]):
    """Ask for an action's fields; dismiss with {name: value} (empty values dropped) or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "submit", "Submit")]
    AUTO_FOCUS = "FieldForm Input, FieldForm Select"
    DEFAULT_CSS = """
    FormScreen { align: center middle; }
    FormScreen > VerticalScroll { width: 100%; max-width: 90; max-height: 100%; height: auto;
                                  border: round $accent; background: $surface; padding: 0 1; }
    FormScreen #form-title { width: 1fr; }
    FormScreen #keys { color: $text-muted; }
    FormScreen #form-error { color: $error; height: auto; }
    FormScreen #buttons { height: auto; align-horizontal: right; margin-top: 1; }
    FormScreen Button { margin-left: 1; min-width: 10; }
    """

    def __init__(
        self,
        title: str,
        fields: tuple[Field, ...],
        values: dict[str, str] | None = None,
        run: Run | None = None,
        item: dict[str, Any] | None = None,
    ) -> None:
        """Keep the fields, the starting values, the call to run on submit and the object acted on."""
        super().__init__()
        self.title_text, self.fields, self.values = title, fields, values or {}
        self.run, self.item = run, item or {}
        self.chosen_items: dict[str, dict[str, dict[str, Any]]] = {}  # field -> value -> the listed object
        self.busy = False

    def compose(self) -> ComposeResult:
        """The title with the keys, the fields, an error line and two buttons."""
        with VerticalScroll():
            yield Label(f"[b]{self.title_text}[/b]", id="form-title")
            yield Label("ctrl+s submit · esc cancel · tab next field", id="keys")
            yield FieldForm(self.fields, self.values, id="form")
            yield Label("", id="form-error")
            with Horizontal(id="buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("OK ^s", id="ok", variant="primary", compact=True)

    @property
    def api(self) -> Api:
        """The app's API wrapper."""
        return cast("VirgaTUI", self.app).api

    def on_mount(self) -> None:
        """Load the options of select fields."""
        for f in self.fields:
            if f.choice is not None:
                self.load_choices(f)

    @work(group="choices", exit_on_error=False)
    async def load_choices(self, f: Field) -> None:
        """Fill a select from its list command, narrowed by what is chosen (an error is a notification)."""
        ch = f.choice
        assert ch is not None
        form = self.query_one(FieldForm)
        params = choice_params(ch, self.item, form.read(), self.chosen())
        items = await self.api.items(ch.command, ch.item, **params)
        if items is not None:
            self.chosen_items[f.name] = {str(i.get(ch.value)): i for i in items}
            opts = [(str(i.get(ch.label) or i.get("name") or i.get(ch.value)), str(i.get(ch.value))) for i in items]
            form.set_choices(f.name, opts, f.required)
            self.follow(f.name)

    def chosen(self) -> dict[str, dict[str, Any]]:
        """The listed object chosen in each select field."""
        values = self.query_one(FieldForm).read()
        return {name: got.get(values.get(name, ""), {}) for name, got in self.chosen_items.items()}

    def follow(self, name: str) -> None:
        """A field changed: reload the choices it narrows and the defaults that follow it."""
        for f in self.fields:
            if f.choice is not None and name in f.choice.depends_on():
                self.load_choices(f)
            if f.default_from is not None and f.default_from.source == name:
                self.load_default(f)

    @work(group="defaults", exit_on_error=False)
    async def load_default(self, f: Field) -> None:
        """Set a field from the object its source field names (e.g. the zone's hypervisor)."""
        d = f.default_from
        assert d is not None
        value = self.query_one(FieldForm).read().get(d.source)
        if not value:
            return
        items = await self.api.items(d.command, d.item, **{d.param: value})
        found = next((str(i[d.attr]) for i in items or [] if i.get(d.attr)), "")
        if found:
            self.query_one(FieldForm).set_value(f.name, found)

    def on_select_changed(self, event: Select.Changed) -> None:
        """A choice made: narrow what depends on it."""
        name = (event.select.id or "")[2:]
        if name and event.select.id == f"f-{name}":
            self.follow(name)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in an input submits."""
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """OK submits, Cancel closes."""
        if event.button.id == "ok":
            self.action_submit()
        else:
            self.action_cancel()

    def action_submit(self) -> None:
        """Close with the values when they are valid (after running the call, when there is one)."""
        if self.busy:
            return
        values = self.query_one(FieldForm).validate_all()
        if values is None:
            return
        kept = {k: v for k, v in values.items() if v != ""}
        if self.run is None:
            self.dismiss(kept)
        else:
            self.submit(kept)

    @work(exclusive=True, group="submit", exit_on_error=False)
    async def submit(self, values: dict[str, Any]) -> None:
        """Run the call; on failure stay open with the values and the error beside its field."""
        assert self.run is not None
        self.busy = True
        error = self.query_one("#form-error", Label)
        error.update("running…")
        try:
            failed = await self.run(values)
        finally:
            self.busy = False
        if failed is None:
            self.dismiss(values)
            return
        if failed == "":  # cancelled (e.g. the confirmation said no): back to the form as it was
            error.update("")
            return
        name = field_named(failed, self.fields)
        form = self.query_one(FieldForm)
        if name is not None:
            form.show_error(name, failed)
            error.update(f"failed: see {next(f.label for f in self.fields if f.name == name)}")
            self.query_one(f"#f-{name}").focus()
        else:
            error.update(f"failed: {failed}")

    def action_cancel(self) -> None:
        """Close without values."""
        if not self.busy:
            self.dismiss(None)
