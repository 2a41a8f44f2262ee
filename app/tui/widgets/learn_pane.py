"""The learning pane: the `virga api` and cmk commands and the request behind each action, newest first."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static
from virga.tui.api import Lesson


class LearnPane(VerticalScroll):
    """Every API call the user's actions made this session (toggle with F2; scroll it; F3 reveals the keys)."""

    DEFAULT_CSS = """
    LearnPane { height: 10; border-top: solid $accent; background: $boost; display: none; }
    LearnPane.visible { display: block; }
    LearnPane > Static { width: 1fr; }
    """

    def compose(self) -> ComposeResult:
        """One text block, rewritten on change."""
        yield Static(self.render_lessons([]), id="lessons")

    @staticmethod
    def render_lessons(lessons: list[Lesson], reveal: bool = False) -> Text:
        """Newest call first: the virga and cmk command lines, the outcome and the request as sent."""
        if not lessons:
            return Text(
                "Learning pane: every action shows its `virga api` and `cmk` commands and its signed request here.",
                style="dim",
            )
        out = Text()
        out.append(
            f"{len(lessons)} calls this session · scroll for older ones · F3 {'hides' if reveal else 'reveals'} "
            "the API key and signature · `virga learn export FILE` writes them as a script\n",
            style="dim italic",
        )
        for lesson in reversed(lessons):
            out.append("$ ", style="bold green")
            out.append(lesson.cli + "\n", style="bold")
            out.append("  cmk: ", style="dim")
            out.append(lesson.cmk + "\n")
            out.append(f"  -> {lesson.outcome}\n", style="red" if lesson.outcome.startswith("error") else "dim")
            if lesson.request:
                out.append(f"  {lesson.shown_request(reveal)}\n", style="dim cyan")
        return out

    def show(self, lessons: list[Lesson], reveal: bool = False) -> None:
        """Redraw with the given calls."""
        self.query_one("#lessons", Static).update(self.render_lessons(lessons, reveal))
