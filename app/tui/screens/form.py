"""A modal form for an action's parameters: selects filled from list commands, inline validation."""

from __future__ import annotations

from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label
from virga.tui.catalog.base import Field
from virga.tui.widgets.field_form import FieldForm


class FormScreen(ModalScreen[dict[str, Any] | None]):
    """Ask for an action's fields; dismiss with {name: value} (empty values dropped) or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "submit", "Submit")]
    AUTO_FOCUS = "FieldForm Input, FieldForm Select"
    DEFAULT_CSS = """
    FormScreen { align: center middle; }
    FormScreen > VerticalScroll { width: 80; max-height: 90%; height: auto; border: thick $accent;
                                  background: $surface; padding: 0 1; }
    FormScreen Horizontal { height: auto; align-horizontal: right; }
    """

    def __init__(self, title: str, fields: tuple[Field, ...], values: dict[str, str] | None = None) -> None:
        """Keep the fields and the starting values."""
        super().__init__()
        self.title_text, self.fields, self.values = title, fields, values or {}

    def compose(self) -> ComposeResult:
        """The title, the fields and two buttons."""
        with VerticalScroll():
            yield Label(f"[b]{self.title_text}[/b]")
            yield FieldForm(self.fields, self.values, id="form")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("OK", id="ok", variant="primary")

    def on_mount(self) -> None:
        """Load the options of select fields."""
        for f in self.fields:
            if f.choice is not None:
                self.load_choices(f)

    @work(exit_on_error=False)
    async def load_choices(self, f: Field) -> None:
        """Fill a select from its list command (an error is a notification)."""
        ch = f.choice
        assert ch is not None
        items = await self.app.api.items(ch.command, ch.item, **ch.params)  # type: ignore[attr-defined]
        if items is not None:
            opts = [(str(i.get(ch.label) or i.get("name") or i.get(ch.value)), str(i.get(ch.value))) for i in items]
            self.query_one(FieldForm).set_choices(f.name, opts, f.required)

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
        """Close with the values when they are valid."""
        values = self.query_one(FieldForm).validate_all()
        if values is not None:
            self.dismiss({k: v for k, v in values.items() if v != ""})

    def action_cancel(self) -> None:
        """Close without values."""
        self.dismiss(None)
