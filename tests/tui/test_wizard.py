"""The zone wizard on the simulator, step by step, with a failed step fixed and retried."""

from __future__ import annotations

from textual.widgets import Input, Label
from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.tui.screens.wizard import WizardScreen
from virga.tui.widgets.field_form import FieldForm

from tests.tui.conftest import tui, until


def page(t) -> WizardScreen:  # type: ignore[no-untyped-def]
    assert isinstance(t.screen, WizardScreen)
    return t.screen


async def run_step(pilot, t, expect_next: str | None) -> None:  # type: ignore[no-untyped-def]
    w = page(t)
    before = w.step.name
    await pilot.press("ctrl+n")
    await until(
        pilot,
        lambda: (
            (w.step.name != before if expect_next else w.progress.failed == before)
            or (before == "launch" and "launch" in w.progress.done)
        ),
        timeout=45,
    )  # real API calls: slow when loaded
    if expect_next:
        assert w.step.name == expect_next or before == "launch"


async def test_wizard_builds_a_zone_with_a_failed_step_retried(app: VirgaApp, admin: VirgaClient) -> None:
    await admin.call("createZone", name="zone-1", dns1="192.0.2.53", internaldns1="192.0.2.53", networktype="Advanced")
    t = tui(admin, start="wizard")
    async with t.run_test(size=(120, 44)) as pilot:
        await until(pilot, lambda: isinstance(t.screen, WizardScreen) and t.screen.query(FieldForm))
        await run_step(pilot, t, "zone")
        # inline validation: a bad DNS never reaches the API
        form = page(t).query_one(FieldForm)
        form.query_one("#f-dns1", Input).value = "not-an-ip"
        await pilot.press("ctrl+n")
        await pilot.pause(0.1)
        assert "not an IPv4" in str(form.query_one("#e-dns1", Label).render())
        form.query_one("#f-dns1", Input).value = "192.0.2.53"
        # the API refuses a duplicate zone name: the step fails with its errortext and stays
        await run_step(pilot, t, None)
        w = page(t)
        assert w.step.name == "zone" and "zone-1" in str(w.query_one("#error", Label).render())
        form = w.query_one(FieldForm)
        form.query_one("#f-name", Input).value = "zone-2"
        for nxt in ("network", "pod", "cluster", "hosts", "primary", "secondary", "launch"):
            await run_step(pilot, t, nxt)
            assert not page(t).progress.failed, page(t).query_one("#error", Label).render()
        await run_step(pilot, t, None)
        assert "launch" in page(t).progress.done
    zones = {z["name"]: z for z in await admin.list("listZones", "zone")}
    assert zones["zone-2"]["allocationstate"] == "Enabled"
    hosts = await admin.list("listHosts", "host", zoneid=zones["zone-2"]["id"])
    assert len(hosts) == 2
