"""Enter on a row: every field of the object, as the API returned it."""

from __future__ import annotations

import json
from typing import Any

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


def fields_table(item: dict[str, Any]) -> Table:
    """Two columns: field and value (nested values as compact JSON)."""
    table = Table(box=None, show_header=False, expand=True)
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for key, value in item.items():
        shown = json.dumps(value) if isinstance(value, dict | list) else str(value)
        table.add_row(key, shown)
    return table


class DetailScreen(ModalScreen[None]):
    """A scrollable list of an object's fields."""

    BINDINGS = [Binding("escape,q,enter", "close", "Close")]
    DEFAULT_CSS = """
    DetailScreen { align: center middle; }
    DetailScreen > VerticalScroll { width: 90%; height: 90%; border: thick $accent; background: $surface; }
    """

    def __init__(self, title: str, item: dict[str, Any]) -> None:
        """Keep the object."""
        super().__init__()
        self.title_text, self.item = title, item

    def compose(self) -> ComposeResult:
        """Title and the fields."""
        with VerticalScroll():
            yield Static(f"[b]{self.title_text}[/b]")
            yield Static(fields_table(self.item))

    def action_close(self) -> None:
        """Back to the list."""
        self.dismiss(None)
