"""Settings: connection profiles (client-side config), theme and refresh interval."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Input, Label, Select, Static
from virga.tui.screens.base import VirgaScreen


def profiles_table(data: dict[str, Any]) -> Table:
    """The saved profiles (secrets never shown)."""
    table = Table(box=None, expand=True, header_style="bold")
    for title in ("", "PROFILE", "SERVER", "USER"):
        table.add_column(title)
    default = data.get("default")
    for name, prof in sorted(data.get("profiles", {}).items()):
        table.add_row("*" if name == default else "", name, prof.get("url") or "(embedded)", prof.get("username") or "")
    if not data.get("profiles"):
        table.add_row("", "(none)", "run `virga profile add NAME URL APIKEY SECRETKEY`", "")
    return table


def load_profiles() -> dict[str, Any]:
    """The CLI's profiles file (empty when there is none)."""
    try:
        from virga.cli import profiles

        return profiles.load()
    except Exception:  # the CLI may not be installed with the TUI
        return {"profiles": {}}


class SettingsScreen(VirgaScreen):
    """Theme and refresh interval apply at once; profiles are listed (edit them with `virga profile`)."""

    NAME = "settings"
    TITLE = "Settings"
    FILTERABLE = False
    DEFAULT_CSS = """
    SettingsScreen VerticalScroll { padding: 0 1; }
    SettingsScreen Select, SettingsScreen Input { width: 40; }
    """

    def body(self) -> ComposeResult:
        """Connection, profiles, theme, refresh."""
        app = self.tui
        with VerticalScroll():
            yield Label("[b]Connection[/b]")
            yield Static(
                f"profile {app.profile} · server {app.client.http.base_url} · "
                f"{'read-only' if app.readonly else 'read-write'}",
                id="conn",
            )
            yield Label("[b]Profiles[/b]")
            yield Static(profiles_table(app.profiles_source()), id="profiles")
            yield Label("[b]Theme[/b]")
            themes = sorted(app.available_themes)
            yield Select([(t, t) for t in themes], value=app.theme, allow_blank=False, id="theme")
            yield Label("[b]Refresh interval (seconds)[/b]")
            yield Input(str(app.refresh_interval), id="interval")

    def on_mount(self) -> None:
        """Draw the frame."""
        self.sync_frame()

    def on_select_changed(self, event: Select.Changed) -> None:
        """Switch theme."""
        if event.select.id == "theme" and isinstance(event.value, str):
            self.app.theme = event.value

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Change the refresh interval of screens opened from now on."""
        try:
            value = float(event.value)
        except ValueError:
            self.notify("the interval must be a number of seconds", severity="error")
            return
        self.tui.refresh_interval = max(0.5, value)
        self.notify(f"refresh every {self.tui.refresh_interval:g}s (new screens)")
