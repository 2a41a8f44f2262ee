"""The connection banner: shown while the server does not answer."""

from __future__ import annotations

from textual.widgets import Static


class ConnectionBanner(Static):
    """A red line saying the connection is lost and being retried."""

    DEFAULT_CSS = """
    ConnectionBanner { display: none; background: $error; color: $text; text-style: bold; padding: 0 1; }
    ConnectionBanner.lost { display: block; }
    """

    def set_state(self, connected: bool, reason: str = "") -> None:
        """Show or hide the banner."""
        self.set_class(not connected, "lost")
        if not connected:
            self.update(f"Connection to the server lost ({reason[:80]}): reconnecting…")
