"""The sandbox wizard: the pod range refused inside the public range, the review page, the template registered."""

from __future__ import annotations

from textual.widgets import Input, Label, Static
from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.tui.widgets.field_form import FieldForm
from virga.tui.wizard_steps import check_pod_against

from tests.tui.conftest import tui, until
from tests.tui.test_wizard import page, run_step


def test_pod_range_inside_the_public_range_is_refused() -> None:
    public = {"startip": "198.51.100.10", "endip": "198.51.100.99"}
    pod = {"gateway": "198.51.100.1", "netmask": "255.255.255.0", "startip": "198.51.100.50", "endip": "198.51.100.60"}
    assert "inside the public range" in (check_pod_against(public)(pod) or "")
    ok = {"gateway": "172.16.0.1", "netmask": "255.255.255.0", "startip": "172.16.0.10", "endip": "172.16.0.200"}
    assert check_pod_against(public)(ok) is None


async def test_sandbox_wizard_reviews_then_launches_with_a_template(app: VirgaApp, admin: VirgaClient) -> None:
    t = tui(admin, start="wizard")
    async with t.run_test(size=(120, 44)) as pilot:
        await until(pilot, lambda: page(t).query(FieldForm))
        for nxt in ("zone", "network", "pod"):
            await run_step(pilot, t, nxt)
        await until(pilot, lambda: page(t).query("#form-pod"))
        form = page(t).query_one("#form-pod", FieldForm)
        for name, value in (("gateway", "198.51.100.1"), ("startip", "198.51.100.50"), ("endip", "198.51.100.60")):
            form.query_one(f"#f-{name}", Input).value = value
        await pilot.press("ctrl+n")
        await pilot.pause(0.2)
        assert page(t).step.name == "pod"
        assert "inside the public range" in str(page(t).query_one("#error", Label).render())
        assert not any(e.command == "createPod" for e in t.api.learn.entries)  # refused before any call
        for name, value in (("gateway", "172.16.0.1"), ("startip", "172.16.0.10"), ("endip", "172.16.0.200")):
            form.query_one(f"#f-{name}", Input).value = value
        for nxt in ("cluster", "hosts", "primary", "secondary", "launch"):
            await run_step(pilot, t, nxt)
        review = str(page(t).query_one("#log", Static).render())
        assert "Review" in review and "public 198.51.100.10-198.51.100.99" in review and "VLAN untagged" in review
        await run_step(pilot, t, None)
        w = page(t)
        assert "launch" in w.progress.done and not w.progress.failed
        assert "▶" not in str(w.render_steps())  # the launch line is marked done, not as the current step
    zone = next(z for z in await admin.list("listZones", "zone") if z["name"] == "zone-1")
    templates = await admin.list("listTemplates", "template", templatefilter="all", zoneid=zone["id"])
    tiny = [x for x in templates if x["name"] == "tiny-linux"]
    assert len(tiny) == 1 and tiny[0]["hypervisor"] == "Simulator"
