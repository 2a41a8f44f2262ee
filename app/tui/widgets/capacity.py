"""Capacity bars per zone, from listCapacity (CPU, memory, primary/secondary storage, public IPs)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static
from virga.tui import fmt

# CloudStack capacity types shown on the dashboard, in order
CAPACITY_TYPES = [(1, "CPU"), (0, "Memory"), (2, "Primary"), (6, "Second."), (4, "Pub. IPs")]
LABEL = 9  # the widest label above, with its indent
BYTES = {0, 2, 3, 6}


def amount(ctype: int, value: Any) -> str:
    """A capacity figure in its unit (bytes, MHz or a count)."""
    if ctype in BYTES:
        return fmt.size(value)
    if ctype == 1:
        return f"{float(value or 0) / 1000:.1f} GHz"
    return str(int(float(value or 0)))


def render_capacity(items: list[dict[str, Any]], bar_width: int = 20) -> Group | Text:
    """One block of bars per zone (pure): the zone's name on a line of its own, then a bar per capacity."""
    if not items:
        return Text("no capacity reported yet", style="dim")
    zones: dict[str, dict[int, dict[str, Any]]] = {}
    for item in items:
        zones.setdefault(str(item.get("zonename") or item.get("zoneid") or "cloud"), {})[int(item.get("type", -1))] = (
            item
        )
    blocks: list[Table | Text] = []
    for zone, by_type in sorted(zones.items()):
        blocks.append(Text(zone, style="bold", overflow="ellipsis", no_wrap=True))
        table = Table(box=None, show_header=False, expand=True, padding=(0, 1, 0, 0))
        table.add_column(no_wrap=True, width=LABEL, overflow="crop")
        table.add_column(no_wrap=True, width=bar_width)
        table.add_column(no_wrap=True, overflow="ellipsis")
        for ctype, title in CAPACITY_TYPES:
            cap = by_type.get(ctype)
            if cap is None:
                continue
            used, total = float(cap.get("capacityused") or 0), float(cap.get("capacitytotal") or 0)
            bar, style = fmt.bar(used, total, bar_width)
            pct = 0 if total <= 0 else round(100 * used / total)
            figures = f"{pct:>3}% {amount(ctype, used)}/{amount(ctype, total)}"
            table.add_row(f" {title}", Text(bar, style=style), figures)
        blocks.append(table)
    return Group(*blocks)


class CapacityBars(Static):
    """The dashboard's capacity panel."""

    items: list[dict[str, Any]] | None = None

    def on_resize(self) -> None:
        """The bars follow the panel's width."""
        if self.items is not None:
            self.show(self.items)

    def show(self, items: list[dict[str, Any]] | None) -> None:
        """Redraw from listCapacity items (None: the command failed)."""
        self.items = items
        if items is None:
            self.update(Text("listCapacity is not available", style="dim"))
        else:
            # the bar takes what the label and the figures (e.g. " 19% 6.0 GHz/32.0 GHz") leave
            width = self.content_size.width or 40
            self.update(render_capacity(items, bar_width=max(6, min(30, width - LABEL - 23))))
