"""The learning pane: the `virga api` command and the signed request behind each action."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static
from virga.tui.api import Lesson


class LearnPane(VerticalScroll):
    """Shows the latest API calls the user's actions made (toggle with F2)."""

    DEFAULT_CSS = """
    LearnPane { height: 9; border-top: solid $accent; background: $boost; display: none; }
    LearnPane.visible { display: block; }
    LearnPane > Static { width: 1fr; }
    """

    def compose(self) -> ComposeResult:
        """One text block, rewritten on change."""
        yield Static(self.render_lessons([]), id="lessons")

    @staticmethod
    def render_lessons(lessons: list[Lesson]) -> Text:
        """Newest call first: the command line, the outcome and the raw request."""
        if not lessons:
            return Text(
                "Learning pane: every action shows its `virga api` command and signed request here.", style="dim"
            )
        out = Text()
        for lesson in reversed(lessons[-5:]):
            out.append("$ ", style="bold green")
            out.append(lesson.cli + "\n", style="bold")
            out.append(f"  -> {lesson.outcome}\n", style="red" if lesson.outcome.startswith("error") else "dim")
            if lesson.request:
                out.append(f"  POST {lesson.request}\n", style="dim cyan")
        return out

    def show(self, lessons: list[Lesson]) -> None:
        """Redraw with the given calls."""
        self.query_one("#lessons", Static).update(self.render_lessons(lessons))
