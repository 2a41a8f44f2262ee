from __future__ import annotations

from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.tui.screens.dashboard import DashboardScreen
from virga.tui.widgets.resource_table import ResourceTable

from tests.factories import Cloud
from tests.tui.conftest import tui, until


async def test_dashboard_then_jump_to_hosts(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    t = tui(admin)
    async with t.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(t.screen, DashboardScreen))
        await pilot.press("colon", *"host", "enter")
        await until(pilot, lambda: t.screen.query(ResourceTable) and t.screen.query_one(ResourceTable).loaded)
        table = t.screen.query_one(ResourceTable)
        assert sorted(i["name"] for i in table.items.values()) == ["sim-host-0", "sim-host-1"]
