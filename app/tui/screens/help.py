"""`?`: the keys of the view underneath, then the global ones; only virga's own, each once."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

GLOBAL_KEYS = [
    (":", "jump to a view, replacing this one (:vm :host :net :ip :zone :vol :tmpl :acct :job :ev :dash :infra ...)"),
    ("/", "filter (every field, ids too; /!text inverts)"),
    ("esc", "back one breadcrumb"),
    ("f2", "show or hide the learning pane (F3 there reveals keys and signatures)"),
    ("ctrl+p", "command palette: every action"),
    ("?", "this help"),
    ("q", "quit"),
]
MOVES = ("cursor(", "page(", "jump(")
GLOBAL_ACTIONS = {"prompt(':')", "prompt('/')", "help", "back", "toggle_learn", "command_palette", "quit"}


def own_bindings(node: object) -> set[tuple[str, str]]:
    """(action, description) of the bindings declared by virga's classes of node (not Textual's)."""
    found: set[tuple[str, str]] = set()
    for cls in type(node).__mro__:
        if not cls.__module__.startswith("virga"):
            continue
        for b in cls.__dict__.get("BINDINGS", []):
            if isinstance(b, Binding) and b.description:
                found.add((b.action, b.description))
    return found


def view_keys(screen: Screen) -> list[tuple[str, str]]:
    """The keys of this view: the screen's and its focused widget's own, one line per action (its keys joined)."""
    rows: dict[tuple[str, str], list[str]] = {}
    for active in screen.active_bindings.values():
        node, b = active.node, active.binding
        if node is screen.app or b.action in GLOBAL_ACTIONS or (b.action, b.description) not in own_bindings(node):
            continue
        keys = rows.setdefault((b.action, b.description), [])
        shown = screen.app.get_key_display(b)
        if shown not in keys:
            keys.append(shown)
    own = [(" ".join(keys), d) for (action, d), keys in rows.items() if not action.startswith(MOVES)]
    moves = [(" ".join(keys), d) for (action, d), keys in rows.items() if action.startswith(MOVES)]
    return own + moves  # the view's actions first, cursor moves last


def bindings_table(screen: Screen) -> Table:
    """Two groups: this view's keys, then the global ones."""
    table = Table(box=None, expand=True, show_header=False)
    table.add_column("KEY", style="bold cyan", no_wrap=True, width=10)
    table.add_column("ACTION")
    table.add_row("[b]This view[/b]", "")
    for key, text in view_keys(screen) or [("", "[dim]nothing more than the global keys[/dim]")]:
        table.add_row(key, text)
    table.add_row("", "")
    table.add_row("[b]Global[/b]", "")
    for key, text in GLOBAL_KEYS:
        table.add_row(key, text)
    return table


class HelpScreen(ModalScreen[None]):
    """Lists the bindings; any of esc, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 100%; max-width: 100; height: auto; max-height: 100%;
                                  border: round $accent; background: $surface; padding: 0 1; }
    """

    def __init__(self, under: Screen) -> None:
        """Remember the screen whose keys are shown."""
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        """The table of keys."""
        name = getattr(self.under, "heading", None) or getattr(self.under, "TITLE", "") or "this view"
        with VerticalScroll():
            yield Static(f"[b]Keys · {name}[/b]   [dim](esc closes)[/dim]")
            yield Static(bindings_table(self.under), id="keys")

    async def action_dismiss(self, result: None = None) -> None:
        """Close the help."""
        self.dismiss(None)
