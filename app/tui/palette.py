"""The command palette provider: every action of the current screen, every jump and app command."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from virga.tui.app import VirgaTUI
    from virga.tui.screens.base import PaletteEntry


class ActionsProvider(Provider):
    """Offer the TUI's actions (read-only mode leaves the mutating ones out)."""

    def entries(self) -> list[PaletteEntry]:
        """(title, help, callback) of everything the user can do from here."""
        app = cast("VirgaTUI", self.app)
        own = list(app.palette_entries(self.screen))
        system = [(c.title, c.help, c.callback) for c in app.get_system_commands(self.screen)]
        return own + system

    async def discover(self) -> Hits:
        """Everything, when nothing is typed yet."""
        for title, help_text, callback in self.entries():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        """Entries matching the typed text."""
        matcher = self.matcher(query)
        for title, help_text, callback in self.entries():
            score = matcher.match(f"{title} {help_text}")
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(callback), help=help_text)
