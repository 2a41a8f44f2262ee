"""VirgaTUI: the full-screen Textual app; an API client like any other."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

import virga.tui.catalog  # noqa: F401  (registers every resource)
from textual import work
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from virga.client import ApiError, VirgaClient
from virga.tui import fmt
from virga.tui.api import Api
from virga.tui.catalog.base import REGISTRY, lookup
from virga.tui.palette import ActionsProvider
from virga.tui.screens.base import PaletteEntry, VirgaScreen
from virga.tui.screens.help import HelpScreen
from virga.tui.screens.settings import load_profiles

log = logging.getLogger(__name__)
ERROR_REPEAT = 30.0  # seconds before the same background error is notified again
SCREEN_WORDS = {
    "dash": "dashboard",
    "dashboard": "dashboard",
    "home": "dashboard",
    "infra": "infra",
    "tree": "infra",
    "wizard": "wizard",
    "setup": "wizard",
    "addzone": "wizard",
    "settings": "settings",
    "profile": "settings",
    "theme": "settings",
}


class VirgaTUI(App[None]):
    """Dashboard first; `:` jumps, `/` filters, `?` helps, F2 shows the API behind each action."""

    TITLE = "virga"
    COMMANDS = App.COMMANDS | {ActionsProvider}
    BINDINGS = [
        Binding("colon", "prompt(':')", "Jump", key_display=":"),
        Binding("slash", "prompt('/')", "Filter", key_display="/"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("escape", "back", "Back", show=False),
        Binding("f2", "toggle_learn", "Learn"),
        Binding("ctrl+p", "command_palette", "Palette", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        client: VirgaClient,
        *,
        readonly: bool = False,
        title: str = "virga",
        profile: str = "",
        clock: fmt.Clock = fmt.wall_clock,
        refresh_interval: float = 3.0,
        wizard_when_empty: bool = True,
        start: str = "dashboard",
        strict: bool = False,
        profiles_source: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        """Talk to the API through `client`; `readonly` hides every mutating action."""
        super().__init__()
        self.client = client
        self.api = Api(client, self)
        self.readonly = readonly
        self.title = title
        self.profile = profile or ("remote" if "virga.embedded" not in str(client.http.base_url) else "embedded")
        self.clock = clock
        self.refresh_interval = refresh_interval
        self.wizard_when_empty = wizard_when_empty
        self.start_word = start
        self.strict = strict
        self.profiles_source = profiles_source or load_profiles
        self.connected = True
        self.disconnect_reason = ""
        self.learn_visible = False
        self._notified: dict[tuple[str, int, str], float] = {}
        self.internal_errors: list[BaseException] = []

    # start ---------------------------------------------------------------
    def on_mount(self) -> None:
        """Open the first screen, then the wizard when the cloud has no zone yet."""
        # A 10,000-VM list is ~10^5 small dicts: with the default thresholds the cyclic collector walks
        # them in the middle of keystrokes (p95 key->frame 150 ms); collecting 100x less often: ~40 ms.
        gc.set_threshold(GC_GEN0, 50, 1000)
        self.goto(self.start_word)
        self.set_interval(2.0, self.ping)
        if self.wizard_when_empty and not self.readonly:
            self.first_run()

    @work(exit_on_error=False)
    async def first_run(self) -> None:
        """Open the zone wizard on an empty cloud."""
        body = await self.api.fetch("listZones")
        if body is not None and not body.get("zone"):
            self.goto("wizard")

    @work(exclusive=True, group="ping", exit_on_error=False)
    async def ping(self) -> None:
        """While disconnected, try the server again; the banner goes when it answers."""
        if not self.connected:
            await self.api.fetch("listCapabilities")

    # state shown by every screen -------------------------------------------
    def status_text(self) -> str:
        """Profile and connection state for the header."""
        mode = " · read-only" if self.readonly else ""
        return f"{self.profile} · {'● connected' if self.connected else '○ disconnected'}{mode}"

    def set_connected(self, connected: bool, reason: str = "") -> None:
        """Record the connection state and update banners."""
        if connected == self.connected:
            return
        self.connected, self.disconnect_reason = connected, reason
        if connected:
            self.notify("Connection to the server is back", title="connected", timeout=3)
        self.refresh_frames()

    def refresh_frames(self) -> None:
        """Redraw the shared frame of every open screen."""
        for screen in self.screen_stack:
            if isinstance(screen, VirgaScreen) and screen.is_mounted:
                screen.sync_frame()

    def learn_changed(self) -> None:
        """A new API call happened: refresh the learning pane if it is shown."""
        if self.learn_visible:
            self.refresh_frames()

    def api_error(self, err: ApiError) -> None:
        """Notify an API error with its errortext (the same one at most every 30 s)."""
        key, now = (err.command, err.code, err.text), time.monotonic()
        if now - self._notified.get(key, -ERROR_REPEAT) < ERROR_REPEAT:
            return
        self._notified[key] = now
        what = "command not available on this server" if err.code == 432 else err.text
        self.notify(
            what if err.code != 432 else f"{err.command}: {what}",
            title=f"{err.command} error {err.code}",
            severity="error",
            timeout=8,
        )

    def _handle_exception(self, error: Exception) -> None:
        """Never a traceback on screen: an internal error becomes a notification (tests stay strict)."""
        self.internal_errors.append(error)
        if self.strict:
            super()._handle_exception(error)
            return
        log.exception("internal error in the TUI", exc_info=error)
        self.notify(f"internal error: {error!r}", severity="error", timeout=10)

    # navigation ------------------------------------------------------------
    def goto(self, word: str) -> None:
        """`:word`: open a screen or a resource table."""
        word = word.strip().lower()
        if word in ("q", "quit", "q!"):
            self.exit()
            return
        target = SCREEN_WORDS.get(word)
        if target:
            self.push_screen(self.make_screen(target))
            return
        res = lookup(word)
        if res is None:
            self.notify(
                f"unknown resource {word!r} (try :vm :host :net :zone :vol :tmpl :acct :job :ev)", severity="warning"
            )
            return
        self.open_resource(res.name)

    def make_screen(self, name: str) -> Screen[Any]:
        """Build one of the special screens."""
        from virga.tui.screens.dashboard import DashboardScreen
        from virga.tui.screens.infra import InfraScreen
        from virga.tui.screens.settings import SettingsScreen
        from virga.tui.screens.wizard import WizardScreen

        return {"dashboard": DashboardScreen, "infra": InfraScreen, "wizard": WizardScreen, "settings": SettingsScreen}[
            name
        ]()

    def open_resource(self, name: str, params: dict[str, Any] | None = None, context: str = "") -> None:
        """Push the table of a resource (filtered by params for a drill-down)."""
        from virga.tui.screens.instances import make_instances_screen
        from virga.tui.screens.resource import ResourceScreen, screen_class
        from virga.tui.screens.templates import TemplatesBase

        if name == "vm":
            self.push_screen(make_instances_screen(params, context))
        elif name in ("tmpl", "iso"):
            self.push_screen(screen_class(REGISTRY[name], TemplatesBase)(REGISTRY[name], params, context))
        else:
            self.push_screen(screen_class(REGISTRY[name], ResourceScreen)(REGISTRY[name], params, context))

    async def action_back(self) -> None:
        """Esc: close the prompt or go back one screen (the first screen stays; async like App.action_back)."""
        if len(self.screen_stack) > 2:
            self.pop_screen()

    def action_prompt(self, mode: str) -> None:
        """Open the `:`/`/` prompt of the current screen."""
        if isinstance(self.screen, VirgaScreen):
            self.screen.open_prompt(mode)

    def action_help(self) -> None:
        """Show every binding of the current screen."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_toggle_learn(self) -> None:
        """Show or hide the learning pane."""
        self.learn_visible = not self.learn_visible
        self.refresh_frames()

    def palette_entries(self, screen: Screen[Any]) -> Iterable[PaletteEntry]:
        """Everything for ctrl+p: the screen's actions, jumps, app commands."""
        if isinstance(screen, VirgaScreen):
            yield from screen.palette()
        for word, title in (("dashboard", "Dashboard"), ("infra", "Infrastructure tree"), ("settings", "Settings")):
            yield (f"Go to {title}", f":{word}", partial(self.goto, word))
        if not self.readonly:
            yield ("Add a zone (setup wizard)", ":wizard", lambda: self.goto("wizard"))
        for res in REGISTRY.values():
            yield (f"Go to {res.title}", f":{res.name}", partial(self.open_resource, res.name))
        yield ("Toggle the learning pane", "F2", self.action_toggle_learn)
        yield ("Show keys", "?", self.action_help)


GC_GEN0 = 100_000  # allocations between young-generation collections (CPython's default: 700)


def make_app(client: VirgaClient, **kw: Any) -> VirgaTUI:
    """Build the TUI (the one factory used by the CLI, the tests and the benchmark)."""
    return VirgaTUI(client, **kw)
