"""Instances screen against a real server: deploy form, live refresh, bulk stop, destroy, filter, learn."""

from __future__ import annotations

from textual.widgets import Input
from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.tui.screens.confirm import ConfirmScreen
from virga.tui.screens.form import FormScreen
from virga.tui.screens.instances import InstancesBase, deploy_calls
from virga.tui.widgets.field_form import FieldForm
from virga.tui.widgets.learn_pane import LearnPane
from virga.tui.widgets.resource_table import ResourceTable

from tests.factories import Cloud, make_network
from tests.tui.conftest import tui, until


def states(t) -> dict[str, str]:  # type: ignore[no-untyped-def]
    table = t.screen.query_one(ResourceTable)
    return {i["name"]: i["state"] for i in table.items.values()}


def test_deploy_calls_name_each_vm() -> None:
    assert [c["name"] for c in deploy_calls({"name": "web", "count": "3", "zoneid": "z"})] == [
        "web-1",
        "web-2",
        "web-3",
    ]
    assert deploy_calls({"count": "1", "zoneid": "z"}) == [{"zoneid": "z"}]


async def test_deploy_stop_destroy_filter_and_learn(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    net = make_network(app, cloud.zone, "admin")
    t = tui(admin, start="vm")
    async with t.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: isinstance(t.screen, InstancesBase) and t.screen.table.loaded)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(t.screen, FormScreen))
        form = t.screen.query_one(FieldForm)
        await pilot.pause(0.5)  # selects are filled from listZones/listTemplates/...
        form.set_choices("networkids", [("net", net)], True)
        form.query_one("#f-name", Input).value = "web"
        form.query_one("#f-count", Input).value = "2"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: states(t) == {"web-1": "Running", "web-2": "Running"})
        # bulk: mark both, stop with confirmation
        await pilot.press("home", "space", "space", "S")
        await until(pilot, lambda: isinstance(t.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: states(t) == {"web-1": "Stopped", "web-2": "Stopped"})
        # destroy one (the cursor row) after confirming
        await pilot.press("home", "d")
        await until(pilot, lambda: isinstance(t.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: "Destroyed" in states(t).values())
        # filter and inverted filter
        table = t.screen.query_one(ResourceTable)
        await pilot.press("slash", *"web-2", "enter")
        assert [table.items[k]["name"] for k in table.shown] == ["web-2"]
        await pilot.press("slash", "!", *"web-2", "enter")
        assert [table.items[k]["name"] for k in table.shown] == ["web-1"]
        await pilot.press("slash", "escape")
        assert len(table.shown) == 2
        # the learning pane shows the CLI equivalent and the signed request
        await pilot.press("f2")
        pane = t.screen.query_one(LearnPane)
        assert pane.display
        text = str(LearnPane.render_lessons(t.api.learn.entries))
        assert "virga api destroyVirtualMachine id=" in text and "signature=" in text
        assert "virga api stopVirtualMachine" in text
    assert not t.internal_errors


async def test_readonly_hides_actions(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    t = tui(admin, start="vm", readonly=True)
    async with t.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: isinstance(t.screen, InstancesBase) and t.screen.table.loaded)
        shown = {
            b.binding.description
            for b in t.screen.active_bindings.values()
            if not b.binding.action.startswith("act(")
            or t.screen.check_action("act", _params(b.binding.action)) is not False
        }
        assert "Deploy" not in shown and "Stop" not in shown
        await pilot.press("n")
        await pilot.pause(0.2)
        assert isinstance(t.screen, InstancesBase)
        titles = [title for title, _, _ in t.palette_entries(t.screen)]
        assert not any("Deploy" in x or "Destroy" in x for x in titles)
        assert "Go to Hosts" in titles


def _params(action: str) -> tuple[object, ...]:
    if "(" not in action:
        return ()
    return (int(action.split("(")[1].rstrip(")")),)
