"""Background monitors: host pings and guest state sync, router health, snapshot policies."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from virga.core import VirgaApp


def start_monitors(app: VirgaApp) -> None:
    """Start the periodic host, router and snapshot-policy loops."""
    from virga.services.routing import check_routers
    from virga.services.snappolicies import run_snapshot_policies
    from virga.services.sync import sync_all

    app.every(app.settings.sync_interval, lambda: sync_all(app))
    if not app.settings.router_supervisor:
        app.every(app.settings.sync_interval, lambda: check_routers(app))
    app.every(60.0, lambda: run_snapshot_policies(app))
