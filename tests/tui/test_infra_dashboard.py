"""Infrastructure tree and dashboard against a real server."""

from __future__ import annotations

from textual.widgets import Static, Tree
from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.tui.screens.confirm import ConfirmScreen
from virga.tui.screens.dashboard import DashboardScreen
from virga.tui.screens.infra import InfraScreen

from tests.factories import Cloud
from tests.tui.conftest import tui, until


async def test_tree_maintenance_and_disable(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    t = tui(admin, start="infra")
    async with t.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: isinstance(t.screen, InfraScreen) and len(t.screen.nodes) == 5)
        tree = t.screen.query_one(Tree)
        host = t.screen.nodes[cloud.hosts[0]]
        tree.move_cursor(host)
        await pilot.pause(0.1)
        assert t.screen.selected() == host.data and host.data[1]["name"] == "sim-host-0"
        await pilot.press("m")
        await until(pilot, lambda: isinstance(t.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: "Maintenance" in str(host.data[1].get("resourcestate")), timeout=20)
        await pilot.press("M")
        await until(pilot, lambda: isinstance(t.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: host.data[1].get("resourcestate") == "Enabled", timeout=20)
        tree.move_cursor(t.screen.nodes[cloud.zone])
        await pilot.press("D")
        await until(pilot, lambda: isinstance(t.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: t.screen.nodes[cloud.zone].data[1].get("allocationstate") == "Disabled")
    assert not t.internal_errors


async def test_dashboard_panels(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    t = tui(admin)
    async with t.run_test(size=(140, 40)) as pilot:
        await until(
            pilot,
            lambda: (
                isinstance(t.screen, DashboardScreen)
                and "loading" not in str(t.screen.query_one("#jobs", Static).render())
            ),
        )
        counts = t.screen.query_one("#counts", Static).render()
        assert counts is not None
    assert not t.internal_errors
