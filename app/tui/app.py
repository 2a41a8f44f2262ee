"""VirgaTUI: the full-screen Textual app; an API client like any other."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
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
MAX_CRUMBS = 6  # the breadcrumb keeps the home view and the last few views opened from it
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


@dataclass
class Crumb:
    """One view of the breadcrumb: how to build it again and what to restore (filter, sort, cursor)."""

    word: str
    label: str
    build: Callable[[], Screen[Any]]
    memo: dict[str, Any] = field(default_factory=dict)


class VirgaTUI(App[None]):
    """Dashboard first; `:` jumps, `/` filters, `?` helps, F2 shows the API behind each action."""

    TITLE = "virga"
    COMMANDS = {ActionsProvider}  # virga's entries first, then Textual's (theme, keys, quit) from the same provider
    BINDINGS = [
        Binding("colon", "prompt(':')", "Jump", key_display=":"),
        Binding("slash", "prompt('/')", "Filter", key_display="/"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("escape", "back", "Back", show=False),
        Binding("f2", "toggle_learn", "Learn"),
        Binding("f3", "reveal", "Reveal keys", show=False),
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
        learn_file: Path | None = None,
    ) -> None:
        """Talk to the API through `client`; `readonly` hides every mutating action."""
        super().__init__()
        self.client = client
        self.api = Api(client, self)
        self.api.learn.path = learn_file
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
        self.crumbs: list[Crumb] = []
        self.acked_jobs: set[str] = set()  # failed jobs acknowledged on the dashboard

    # start ---------------------------------------------------------------
    def on_mount(self) -> None:
        """Open the first screen, then the wizard when the cloud has no zone yet."""
        # A 10,000-VM list is ~10^5 small dicts: with the default thresholds the cyclic collector walks
        # them in the middle of keystrokes (p95 key->frame 150 ms); collecting 100x less often: ~40 ms.
        gc.set_threshold(GC_GEN0, 50, 1000)
        self.api.learn.start_session()
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
        """`:word`: replace the current view by a screen or a resource table (the home view stays under it)."""
        word = word.strip().lower()
        if word in ("q", "quit", "q!"):
            self.exit()
            return
        target = SCREEN_WORDS.get(word)
        if target:
            self.show(Crumb(target, self.screen_label(target), partial(self.make_screen, target)), replace=True)
            return
        res = lookup(word)
        if res is None:
            self.notify(
                f"unknown resource {word!r} (try :vm :host :net :zone :vol :tmpl :acct :job :ev)", severity="warning"
            )
            return
        self.open_resource(res.name, replace=True)

    @staticmethod
    def screen_label(name: str) -> str:
        """The breadcrumb label of a special screen."""
        return {"dashboard": "Dashboard", "infra": "Infra", "wizard": "Add zone", "settings": "Settings"}[name]

    def make_screen(self, name: str) -> Screen[Any]:
        """Build one of the special screens (the wizard is kept: its progress survives a jump away)."""
        from virga.tui.screens.dashboard import DashboardScreen
        from virga.tui.screens.infra import InfraScreen
        from virga.tui.screens.settings import SettingsScreen
        from virga.tui.screens.wizard import WizardScreen

        if name == "wizard":
            if not self.is_screen_installed("wizard"):
                self.install_screen(WizardScreen(), "wizard")
            return self.get_screen("wizard")
        return {"dashboard": DashboardScreen, "infra": InfraScreen, "settings": SettingsScreen}[name]()

    def open_resource(
        self, name: str, params: dict[str, Any] | None = None, context: str = "", replace: bool = False
    ) -> None:
        """Show the table of a resource (filtered by params for a drill-down, which adds a breadcrumb)."""
        res = REGISTRY[name]
        label = res.title + (f" of {context}" if context else "")
        self.show(Crumb(name, label, partial(self.build_resource, name, params, context)), replace=replace)

    def build_resource(self, name: str, params: dict[str, Any] | None, context: str) -> Screen[Any]:
        """A resource table screen."""
        from virga.tui.screens.instances import make_instances_screen
        from virga.tui.screens.resource import ResourceScreen, screen_class
        from virga.tui.screens.templates import TemplatesBase

        if name == "vm":
            return make_instances_screen(params, context)
        if name in ("tmpl", "iso"):
            return screen_class(REGISTRY[name], TemplatesBase)(REGISTRY[name], params, context)
        return screen_class(REGISTRY[name], ResourceScreen)(REGISTRY[name], params, context)

    def open_detail(self, resource: str, item: dict[str, Any]) -> None:
        """Enter on a row: the object's detail view (its actions and related objects), one breadcrumb deeper."""
        from virga.tui.screens.detail import ObjectScreen, object_screen_class
        from virga.tui.screens.resource import label_of

        res = REGISTRY[resource]

        def build() -> ObjectScreen:
            """The detail screen of the item."""
            return object_screen_class(res)(res, item)

        self.show(Crumb(f"{resource}:{item.get(res.key)}", label_of(item), build))

    def show(self, crumb: Crumb, replace: bool = False) -> None:
        """Make crumb's view the only screen shown: `replace` swaps the current view, else it goes one deeper."""
        home = self.crumbs[0].word if self.crumbs else ""
        if self.crumbs and isinstance(self.screen, VirgaScreen):
            self.crumbs[-1].memo = self.screen.memo()
        if not self.crumbs:
            self.crumbs = [crumb]
        elif crumb.word == home:
            self.crumbs = self.crumbs[:1]
        elif replace and len(self.crumbs) > 1:
            self.crumbs[-1] = crumb
        else:
            self.crumbs.append(crumb)
            del self.crumbs[1 : max(1, len(self.crumbs) - MAX_CRUMBS + 1)]
        self.display_crumb(self.crumbs[-1])

    def display_crumb(self, crumb: Crumb) -> None:
        """Build the crumb's screen and put it in place of the current one (whose timers stop with it)."""
        screen = crumb.build()
        if isinstance(screen, VirgaScreen):
            screen.restore(crumb.memo)
        while len(self.screen_stack) > 2 and not isinstance(self.screen, VirgaScreen):
            self.pop_screen()  # a modal (help, a form) left over the view being replaced
        if screen is self.screen:
            return
        if len(self.screen_stack) <= 1:
            self.push_screen(screen)
        else:
            self.switch_screen(screen)

    def breadcrumb(self) -> str:
        """The header's breadcrumb: the views Esc goes back through, the current one last."""
        labels = [c.label for c in self.crumbs]
        if len(labels) > 3:
            labels = [labels[0], "…", *labels[-2:]]
        return " › ".join(labels)

    async def action_back(self) -> None:
        """Esc: go back one breadcrumb (the home view stays; async like App.action_back)."""
        if not isinstance(self.screen, VirgaScreen):
            if len(self.screen_stack) > 2:
                self.pop_screen()
            return
        if len(self.crumbs) > 1:
            self.crumbs.pop()
            self.display_crumb(self.crumbs[-1])

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`/` is offered only where it filters something; F3 only while the learning pane is shown."""
        if action == "prompt" and parameters == ("/",):
            return bool(getattr(self.screen, "FILTERABLE", False))
        if action == "reveal":
            return self.learn_visible
        return True

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

    def action_reveal(self) -> None:
        """F3: show or mask the API key and signature in the learning pane (masked for projectors)."""
        self.api.reveal = not self.api.reveal
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
            yield (f"Go to {res.title}", f":{res.name}", partial(self.goto, res.name))
        yield ("Toggle the learning pane", "F2", self.action_toggle_learn)
        yield ("Show keys", "?", self.action_help)


GC_GEN0 = 100_000  # allocations between young-generation collections (CPython's default: 700)


def make_app(client: VirgaClient, **kw: Any) -> VirgaTUI:
    """Build the TUI (the one factory used by the CLI, the tests and the benchmark)."""
    return VirgaTUI(client, **kw)
