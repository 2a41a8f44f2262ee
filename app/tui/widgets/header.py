"""The top line: the app, the breadcrumb of views (Esc goes back through it) and the connection."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


def header_text(title: str, crumbs: str, status: str, width: int) -> Text:
    """`☁ virga — Dashboard › Hosts · embedded · ● connected`, the breadcrumb shortened to fit (pure)."""
    room = max(8, width - len(title) - len(status) - 10)
    parts = crumbs.split(" › ")
    while len(" › ".join(parts)) > room and not (len(parts) <= 2 and parts[0] == "…"):
        rest = parts[1:] if parts[0] == "…" else parts  # drop the oldest views first
        parts = ["…", *(p for p in rest[1:] if p != "…")]
    crumbs = " › ".join(parts)
    if len(crumbs) > room:
        crumbs = "…" + crumbs[-(room - 1) :]
    out = Text(justify="center", no_wrap=True, overflow="ellipsis")
    out.append("☁ ")
    out.append(title, style="bold")
    out.append(" — ")
    out.append(crumbs, style="bold")
    out.append(f" · {status}", style="dim")
    return out


class VirgaHeader(Static):
    """One line at the top of every screen, rewritten by the screen's sync_frame."""

    DEFAULT_CSS = """
    VirgaHeader { dock: top; height: 1; width: 1fr; background: $panel; color: $foreground; }
    """

    def show(self, title: str, crumbs: str, status: str) -> None:
        """Redraw."""
        self.update(header_text(title, crumbs, status, self.size.width or 80))
