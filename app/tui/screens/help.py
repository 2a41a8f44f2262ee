"""`?`: every binding of the screen underneath, with the k9s-style global keys."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

GLOBAL_KEYS = [
    (":", "jump to a resource (:vm :host :net :zone :vol :tmpl :acct :job :ev :dash :infra :wizard ...)"),
    ("/", "filter the table (/!text inverts)"),
    ("esc", "back"),
    ("enter", "open / drill down"),
    ("space", "mark rows for bulk actions"),
    ("f2", "toggle the learning pane"),
    ("ctrl+p", "command palette: every action"),
    ("?", "this help"),
    ("q", "quit"),
]


def bindings_table(screen: Screen) -> Table:
    """A table of the keys active on a screen (its own, its focused widget's and the app's)."""
    table = Table(box=None, expand=True, show_header=True, header_style="bold")
    table.add_column("KEY", style="bold cyan", no_wrap=True)
    table.add_column("ACTION")
    seen: set[str] = set()
    for key, text in GLOBAL_KEYS:
        table.add_row(key, text)
        seen.add(key)
    for key, active in screen.active_bindings.items():
        b = active.binding
        if not b.description or key in seen:
            continue
        if screen.app.check_action(b.action, ()) is False:
            continue
        seen.add(key)
        table.add_row(screen.app.get_key_display(b), b.description)
    return table


class HelpScreen(ModalScreen[None]):
    """Lists the bindings; any of esc, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90%; height: 90%; border: thick $accent; background: $surface; }
    """

    def __init__(self, under: Screen) -> None:
        """Remember the screen whose keys are shown."""
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        """The table of keys."""
        with VerticalScroll():
            yield Static(f"[b]Keys of {self.under.__class__.__name__.removesuffix('Screen')}[/b]")
            yield Static(bindings_table(self.under), id="keys")

    async def action_dismiss(self, result: None = None) -> None:
        """Close the help."""
        self.dismiss(None)
