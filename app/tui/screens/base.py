"""The frame every screen shares: header, connection banner, prompt, learning pane, footer."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, cast

from textual.app import ComposeResult
from textual.screen import ActiveBinding, Screen
from textual.timer import Timer
from textual.widgets import Footer
from virga.tui.widgets.banner import ConnectionBanner
from virga.tui.widgets.command_line import CommandLine
from virga.tui.widgets.header import VirgaHeader
from virga.tui.widgets.learn_pane import LearnPane

if TYPE_CHECKING:
    from virga.tui.api import Api
    from virga.tui.app import VirgaTUI

PaletteEntry = tuple[str, str, Callable[[], Any]]
FIRST_KEYS = ("question_mark", "q", "colon", "slash")  # the footer shows these before anything else


class VirgaScreen(Screen[None]):
    """A full screen of the TUI; subclasses yield their content from body()."""

    NAME = "screen"
    TITLE = "virga"
    heading: str | None = None  # the header's name for a screen whose title depends on what it shows
    FILTERABLE = True  # `/` filters something on this screen (else the footer does not offer it)

    def __init__(self) -> None:
        """No timers yet."""
        super().__init__()
        self.timers: list[Timer] = []

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """The keys in force, `?`, `q`, `:` and `/` first (the footer shows them in this order)."""
        found = super().active_bindings
        ordered = {k: found[k] for k in FIRST_KEYS if k in found}
        ordered.update((k, v) for k, v in found.items() if k not in ordered)
        return ordered

    def poll(self, interval: float, callback: Callable[[], Any]) -> Timer:
        """A refresh timer that runs only while this screen is the one shown."""
        timer = self.set_interval(interval, callback)
        self.timers.append(timer)
        return timer

    def on_screen_suspend(self) -> None:
        """Hidden: stop refreshing."""
        for timer in self.timers:
            timer.pause()

    def memo(self) -> dict[str, Any]:
        """What to restore when Esc comes back to this view (filter, sort, cursor...)."""
        return {}

    def restore(self, memo: dict[str, Any]) -> None:
        """Take back what memo() saved (called before the screen is mounted)."""

    @property
    def tui(self) -> VirgaTUI:
        """The application, typed."""
        return cast("VirgaTUI", self.app)

    @property
    def api(self) -> Api:
        """The API wrapper."""
        return self.tui.api

    def compose(self) -> ComposeResult:
        """The shared frame around the screen's body."""
        yield VirgaHeader(id="header")
        yield ConnectionBanner()
        yield from self.body()
        yield CommandLine(id="cmdline")
        yield LearnPane()
        yield Footer(compact=True, show_command_palette=False)

    def body(self) -> ComposeResult:
        """The screen's own widgets."""
        yield from ()

    def on_resize(self) -> None:
        """The header's breadcrumb is shortened to the width."""
        self.sync_frame()

    def on_screen_resume(self) -> None:
        """Shown again: bring the shared parts up to date and refresh again."""
        self.sync_frame()
        for timer in self.timers:
            timer.resume()

    def sync_frame(self) -> None:
        """Header text, banner and learning pane from the app's state."""
        app = self.tui
        self.title = app.title
        crumbs = app.breadcrumb() if app.crumbs and app.screen is self else (self.heading or self.TITLE)
        self.sub_title = f"{crumbs} · {app.status_text()}"
        for header in self.query(VirgaHeader):
            header.show(app.title, crumbs, app.status_text())
        for banner in self.query(ConnectionBanner):
            banner.set_state(app.connected, app.disconnect_reason)
        for pane in self.query(LearnPane):
            pane.set_class(app.learn_visible, "visible")
            if app.learn_visible:
                pane.show(app.api.learn.entries, app.api.reveal)

    def open_prompt(self, mode: str) -> None:
        """Open the `:`/`/` prompt (`/` starts from the filter in force, to edit it)."""
        self.query_one(CommandLine).open(mode, self.current_filter() if mode == "/" else "")

    def current_filter(self) -> str:
        """The filter in force as typed after `/` (screens with a table override this)."""
        return ""

    def on_command_line_jump(self, message: CommandLine.Jump) -> None:
        """`:word` jumps to a resource."""
        self.tui.goto(message.word)

    def on_command_line_filter(self, message: CommandLine.Filter) -> None:
        """`/text` filters the screen's table."""
        self.apply_filter(message.text, message.invert)

    def apply_filter(self, text: str, invert: bool) -> None:
        """Filter the screen's content (screens with a table override this)."""

    def palette(self) -> Iterable[PaletteEntry]:
        """The screen's actions for the command palette."""
        return ()
