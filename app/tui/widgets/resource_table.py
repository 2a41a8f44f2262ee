"""A virtual table of API items: in-place updates by key, filter, marks; renders only visible lines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

Cell = tuple[str, str]  # text, rich style
GAP = "  "
CURSOR = Style(bgcolor="#2b4f7a", bold=True)
CURSOR_BLUR = Style(bgcolor="#333b44")
MARK = Style(color="yellow", bold=True)


@dataclass(frozen=True)
class Column:
    """One column: a title, a width and how to render an item's cell."""

    title: str
    width: int
    render: Callable[[dict[str, Any]], Cell]
    live: bool = False  # changes with the clock: rendered when drawn, not stored nor searched


def field(name: str, title: str, width: int, default: str = "") -> Column:
    """A column showing one field of the item as it is."""
    return Column(title, width, lambda item: (str(item.get(name, default)), ""))


class ResourceTable(ScrollView, can_focus=True):
    """Rows of items keyed by id; cursor and marks survive refreshes, the header stays on top."""

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,g", "jump(0)", "Top", show=False),
        Binding("end,G", "jump(-1)", "Bottom", show=False),
        Binding("space", "mark", "Mark", show=True),
        Binding("enter", "select", "Open", show=True),
    ]
    DEFAULT_CSS = """
    ResourceTable { height: 1fr; }
    """

    class Selected(Message):
        """Enter (or a double click) on a row."""

        def __init__(self, table: ResourceTable, item: dict[str, Any]) -> None:
            """Carry the chosen item."""
            super().__init__()
            self.table, self.item = table, item

    def __init__(self, columns: list[Column], key: str = "id", **kw: Any) -> None:
        """Start empty with the given columns; items are keyed by their `key` field."""
        super().__init__(**kw)
        self.columns = columns
        self.key = key
        self.items: dict[str, dict[str, Any]] = {}
        self.cells: dict[str, list[Cell]] = {}
        self.search: dict[str, str] = {}
        self.order: list[str] = []
        self.shown: list[str] = []
        self.marks: set[str] = set()
        self.cursor = 0
        self.filter_text, self.filter_invert = "", False
        self.loaded = False
        self.live = any(c.live for c in columns)
        self._width = 2 + sum(c.width + len(GAP) for c in columns)

    # data ---------------------------------------------------------------
    def set_items(self, items: list[dict[str, Any]]) -> None:
        """Replace the items, keeping cursor and marks on the same keys; redraw only what changed."""
        current = self.current_key()
        new_order: list[str] = []
        changed = False
        for item in items:
            k = str(item.get(self.key, ""))
            new_order.append(k)
            if k in self.cells and self.items.get(k) == item:
                continue
            cells = [("", "") if c.live else c.render(item) for c in self.columns]
            if self.cells.get(k) != cells:
                self.cells[k] = cells
                self.search[k] = " ".join(t for t, _ in cells if t).lower()
            changed = True
            self.items[k] = item
        if new_order != self.order:
            gone = set(self.order) - set(new_order)
            for k in gone:
                self.items.pop(k, None), self.cells.pop(k, None), self.search.pop(k, None)
            self.marks -= gone
            self.order = new_order
            changed = True
        self.loaded = True
        if changed:
            self._refilter(current)

    def set_filter(self, text: str, invert: bool = False) -> None:
        """Show only rows containing text (or not containing it when inverted)."""
        self.filter_text, self.filter_invert = text.lower(), invert
        self._refilter(self.current_key())

    def _refilter(self, keep: str | None) -> None:
        """Recompute the visible rows and put the cursor back on `keep` if still shown."""
        needle, inv = self.filter_text, self.filter_invert
        if needle:
            self.shown = [k for k in self.order if (needle in self.search[k]) != inv]
        else:
            self.shown = list(self.order)
        if keep is not None and keep in self.search:
            try:
                self.cursor = self.shown.index(keep)
            except ValueError:
                pass
        self.cursor = max(0, min(self.cursor, len(self.shown) - 1))
        self.virtual_size = Size(self._width, len(self.shown) + 1)
        self.refresh()

    def current_key(self) -> str | None:
        """The key of the row under the cursor."""
        return self.shown[self.cursor] if 0 <= self.cursor < len(self.shown) else None

    def current(self) -> dict[str, Any] | None:
        """The item under the cursor."""
        k = self.current_key()
        return self.items.get(k) if k is not None else None

    def chosen(self) -> list[dict[str, Any]]:
        """The marked items, or the one under the cursor when none is marked."""
        if self.marks:
            return [self.items[k] for k in self.order if k in self.marks]
        item = self.current()
        return [item] if item else []

    # keys ---------------------------------------------------------------
    def action_cursor(self, delta: int) -> None:
        """Move the cursor by delta rows."""
        self.move_to(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        """Move a page up or down."""
        self.move_to(self.cursor + direction * max(1, self.size.height - 2))

    def action_jump(self, where: int) -> None:
        """Jump to the first or the last row."""
        self.move_to(0 if where == 0 else len(self.shown) - 1)

    def action_mark(self) -> None:
        """Toggle the mark on the cursor's row (for bulk actions) and move down."""
        k = self.current_key()
        if k is None:
            return
        self.marks.symmetric_difference_update({k})
        self.move_to(self.cursor + 1)
        self.refresh()

    def action_select(self) -> None:
        """Tell the screen a row was chosen."""
        item = self.current()
        if item is not None:
            self.post_message(self.Selected(self, item))

    def move_to(self, row: int) -> None:
        """Put the cursor on a row and scroll it into view."""
        if not self.shown:
            return
        old = self.cursor
        self.cursor = max(0, min(row, len(self.shown) - 1))
        body = max(1, self.size.height - 1)
        top = int(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + body:
            self.scroll_to(y=self.cursor - body + 1, animate=False)
        if old != self.cursor:
            self.refresh()

    def on_click(self, event: events.Click) -> None:
        """Click moves the cursor; a double click opens the row."""
        if event.y < 1:
            return
        self.move_to(int(self.scroll_offset.y) + event.y - 1)
        if event.chain >= 2:
            self.action_select()

    # rendering ----------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        """One line of the viewport: the header on line 0, rows below."""
        x, width = int(self.scroll_offset.x), self.size.width
        if y == 0:
            head = Style(bold=True)
            return self._strip("  ", head, [(c.title, "") for c in self.columns], head, x, width)
        row = int(self.scroll_offset.y) + y - 1
        if row >= len(self.shown):
            return Strip.blank(width)
        k = self.shown[row]
        base = CURSOR if row == self.cursor and self.has_focus else (CURSOR_BLUR if row == self.cursor else Style())
        cells = self.cells[k]
        if self.live:
            item = self.items[k]
            cells = [c.render(item) if c.live else cell for c, cell in zip(self.columns, cells, strict=True)]
        return self._strip("* " if k in self.marks else "  ", base, cells, base, x, width)

    def _strip(self, marker: str, base: Style, cells: list[Cell], fill: Style, x: int, width: int) -> Strip:
        """Lay out a marker and cells at the column widths, cropped to the viewport."""
        segs = [Segment(marker, MARK + base)]
        for column, (text, style) in zip(self.columns, cells, strict=False):
            segs.append(
                Segment(text[: column.width].ljust(column.width), (Style.parse(style) if style else Style()) + base)
            )
            segs.append(Segment(GAP, base))
        return Strip(segs).crop(x, x + width).extend_cell_length(width, fill)

    def on_focus(self) -> None:
        """Redraw the cursor in its focused colour."""
        self.refresh()

    def on_blur(self) -> None:
        """Redraw the cursor in its unfocused style."""
        self.refresh()
