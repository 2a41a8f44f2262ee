"""Background monitors: host pings and guest state reconciliation."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from virga.core import VirgaApp


def start_monitors(app: VirgaApp) -> None:
    """Start the periodic host and guest monitors."""
    from virga.services.sync import sync_all

    app.every(app.settings.sync_interval, lambda: sync_all(app))
