"""A virtual table of API items: in-place updates by key, filter, sort, marks; renders only visible lines."""

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
    sort: Callable[[dict[str, Any]], Any] | None = None  # the sort key (default: the cell's text, numbers first)


def natural(text: str) -> tuple[int, float, str]:
    """A sort key for a cell's text: numbers by value before words in alphabetical order (pure)."""
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text.lower())


def flatten(value: Any, depth: int = 0) -> list[str]:
    """Every scalar inside an API item, as text (ids, nested NIC addresses...) for the `/` filter (pure)."""
    if isinstance(value, dict):
        return [t for v in value.values() for t in flatten(v, depth + 1)] if depth < 3 else []
    if isinstance(value, list | tuple):
        return [t for v in value for t in flatten(v, depth + 1)] if depth < 3 else []
    return [] if value is None or value == "" else [str(value)]


def clip(text: str, width: int) -> str:
    """Fit text in width cells, with an ellipsis when it is cut (pure)."""
    return text.ljust(width) if len(text) <= width else text[: max(0, width - 1)] + "…"


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
        Binding("enter", "select", "Open", show=True),
        Binding("space", "mark", "Mark", show=True),
        Binding("y", "copy", "Copy id", show=True),
        Binding("o", "sort(1)", "Sort", show=True),
        Binding("O", "sort(-1)", "Reverse sort", show=False),
    ]
    DEFAULT_CSS = """
    ResourceTable { height: 1fr; }
    """

    class Changed(Message):
        """The view changed in a way the status line shows: sort, horizontal scroll, a copied id."""

        def __init__(self, table: ResourceTable, note: str = "") -> None:
            """Carry an optional note (e.g. what was copied)."""
            super().__init__()
            self.table, self.note = table, note

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
        self.sort_col: int | None = None
        self.sort_desc = False
        self.pending_cursor: str | None = None  # a key to put the cursor on once it is loaded (a view restored)
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
                self.search[k] = " ".join([*(t for t, _ in cells if t), *flatten(item)]).lower()
            changed = True
            self.items[k] = item
        if new_order != self.order:
            gone = set(self.order) - set(new_order)
            for k in gone:
                self.items.pop(k, None), self.cells.pop(k, None), self.search.pop(k, None)
            self.marks -= gone
            self.order = new_order
            changed = True
        if not self.loaded and self.pending_cursor in self.items:
            current = self.pending_cursor
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
        if self.sort_col is not None:
            self.shown.sort(key=self.sort_key(self.columns[self.sort_col]), reverse=self.sort_desc)
        if keep is not None and keep in self.search:
            try:
                self.cursor = self.shown.index(keep)
            except ValueError:
                pass
        self.cursor = max(0, min(self.cursor, len(self.shown) - 1))
        self.virtual_size = Size(self._width, len(self.shown) + 1)
        self.refresh()

    def sort_key(self, column: Column) -> Callable[[str], Any]:
        """How rows compare on a column: its own key, else the cell's text (numbers by value)."""
        index = self.columns.index(column)
        if column.sort is not None:
            key = column.sort
            return lambda k: natural(str(key(self.items[k]) or ""))
        if column.live:
            return lambda k: natural(column.render(self.items[k])[0])
        return lambda k: natural(self.cells[k][index][0])

    def set_sort(self, col: int | None, desc: bool = False) -> None:
        """Sort the shown rows by a column (None: the API's order), the cursor staying on its row."""
        self.sort_col, self.sort_desc = col, desc
        self._refilter(self.current_key())
        self.post_message(self.Changed(self))

    def sort_label(self) -> str:
        """The sort in force, for the status line."""
        if self.sort_col is None:
            return ""
        return f"sort {self.columns[self.sort_col].title} {'▼' if self.sort_desc else '▲'}"

    def hidden_columns(self) -> tuple[int, int]:
        """How many columns are scrolled off (or cut) to the left and to the right of the viewport."""
        x, width = int(self.scroll_offset.x), self.size.width
        left = right = 0
        pos = 2
        for c in self.columns:
            if pos < x:
                left += 1
            elif pos + c.width > x + width:
                right += 1
            pos += c.width + len(GAP)
        return left, right

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

    def action_sort(self, step: int) -> None:
        """`o`: sort by the next column (after the last one, back to the API's order); `O`: reverse."""
        if step < 0:
            self.set_sort(0 if self.sort_col is None else self.sort_col, not self.sort_desc)
            return
        nxt = 0 if self.sort_col is None else self.sort_col + 1
        self.set_sort(nxt if nxt < len(self.columns) else None)

    def action_copy(self) -> None:
        """`y`: copy the cursor row's id to the clipboard (OSC 52) and say so."""
        k = self.current_key()
        if k is None:
            return
        self.app.copy_to_clipboard(k)
        self.post_message(self.Changed(self, f"copied {self.key} {k}"))

    def watch_scroll_x(self, old: float, new: float) -> None:
        """Columns scrolled: the header's arrows and the status line's hint change."""
        super().watch_scroll_x(old, new)
        self.post_message(self.Changed(self))

    def on_resize(self) -> None:
        """A new width hides or shows columns."""
        self.post_message(self.Changed(self))

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
            self.click_header(int(self.scroll_offset.x) + event.x)
            return
        self.move_to(int(self.scroll_offset.y) + event.y - 1)
        if event.chain >= 2:
            self.action_select()

    def click_header(self, x: int) -> None:
        """A click on a column's title sorts by it; a second click reverses."""
        pos = 2
        for i, c in enumerate(self.columns):
            if pos <= x < pos + c.width + len(GAP):
                self.set_sort(i, not self.sort_desc if self.sort_col == i else False)
                return
            pos += c.width + len(GAP)

    # rendering ----------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        """One line of the viewport: the header on line 0, rows below."""
        x, width = int(self.scroll_offset.x), self.size.width
        if y == 0:
            head = Style(bold=True)
            titles = [(self.title_of(i), "") for i in range(len(self.columns))]
            strip = self._strip("  ", head, titles, head, x, width)
            left, right = self.hidden_columns()
            if right:
                strip = strip.crop(0, width - 1).extend_cell_length(width - 1, head) + Strip([Segment("»", head)])
            if left:
                strip = Strip([Segment("«", head)]) + strip.crop(1, width)
            return strip
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
            segs.append(Segment(clip(text, column.width), (Style.parse(style) if style else Style()) + base))
            segs.append(Segment(GAP, base))
        return Strip(segs).crop(x, x + width).extend_cell_length(width, fill)

    def title_of(self, index: int) -> str:
        """A column's title with the sort arrow when it is the sort column."""
        title = self.columns[index].title
        if index != self.sort_col:
            return title
        width = self.columns[index].width
        return title[: max(1, width - 2)] + " " + ("▼" if self.sort_desc else "▲")

    def on_focus(self) -> None:
        """Redraw the cursor in its focused colour."""
        self.refresh()

    def on_blur(self) -> None:
        """Redraw the cursor in its unfocused style."""
        self.refresh()
