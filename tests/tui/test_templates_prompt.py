"""Templates: register with a download progress bar (and a failed download); the prompt and form focus."""

from __future__ import annotations

from textual.widgets import Input, ProgressBar, Select
from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.drivers.simulator.world import WORLD, Rule
from virga.tui.catalog.base import Field
from virga.tui.screens.form import FormScreen
from virga.tui.screens.templates import TemplatesBase, download_state
from virga.tui.widgets.command_line import CommandLine
from virga.tui.widgets.field_form import FieldForm

from tests.factories import Cloud
from tests.tui.conftest import tui, until


def test_download_state_reads_status_and_isready() -> None:
    assert download_state({"status": "25% Downloaded"}) == ("running", 25)
    assert download_state({"status": "Download In Progress"}) == ("running", 0)
    assert download_state({"status": "Download Complete", "isready": True}) == ("ready", 100)
    assert download_state({"status": "Download Failed: disk full"}) == ("failed", 0)


def notes(t) -> list[str]:  # type: ignore[no-untyped-def]
    return [f"{n.title} {n.message}" for n in t._notifications]


async def register(pilot, t, name: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("n")
    await until(pilot, lambda: isinstance(t.screen, FormScreen))
    form = t.screen.query_one(FieldForm)
    await until(pilot, lambda: form.read()["ostypeid"] and form.read()["zoneid"])
    assert t.focused is form.query_one("#f-name", Input)  # the form starts on its first field
    for field, value in (("name", name), ("displaytext", name), ("url", f"simulator://templates/{name}.qcow2")):
        form.query_one(f"#f-{field}", Input).value = value
    form.query_one("#f-hypervisor", Select).value = "Simulator"
    await pilot.press("ctrl+s")


async def test_register_shows_the_download_progress(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    WORLD.configure(Rule(operation="download_template", latency_ms=300))
    t = tui(admin, start="tmpl")
    seen: set[float] = set()
    async with t.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: isinstance(t.screen, TemplatesBase) and t.screen.table.loaded)
        screen = t.screen
        bar = screen.query_one("#download-bar", ProgressBar)
        await register(pilot, t, "bar-test")

        def progressed() -> bool:
            if screen.query_one("#download").has_class("active"):
                seen.add(bar.progress)
            return any("download complete" in n for n in notes(t))

        await until(pilot, progressed, timeout=30)
        assert any(0 < p < 100 for p in seen), seen  # the bar moved through the download
        assert not screen.query_one("#download").has_class("active")
        assert any("bar-test is ready" in n for n in notes(t))
    got = await admin.list("listTemplates", "template", templatefilter="all", name="bar-test")
    assert got and got[0]["isready"]


async def test_failed_download_is_notified_with_its_status(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    WORLD.configure(Rule(operation="download_template", fail="image store full"))
    t = tui(admin, start="tmpl")
    async with t.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: isinstance(t.screen, TemplatesBase) and t.screen.table.loaded)
        await register(pilot, t, "bad-dl")
        await until(pilot, lambda: any("download failed" in n for n in notes(t)), timeout=30)
        assert any("image store full" in n for n in notes(t)), notes(t)


async def test_prompt_keeps_its_prefix_and_shows_the_filter(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    t = tui(admin, start="tmpl")
    async with t.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: isinstance(t.screen, TemplatesBase) and t.screen.table.loaded)
        line = t.screen.query_one(CommandLine)
        await pilot.press("colon", *"zo")
        assert line.value == ":zo"  # typing does not replace the `:` prefix
        await pilot.press("escape", "slash", *"tiny", "enter")
        assert t.screen.table.filter_text == "tiny"
        await pilot.press("slash")
        assert line.value == "/tiny" and line.selected_text == "tiny"  # the filter in force, selected
        await pilot.press("left", "backspace", "escape")
        assert t.screen.table.filter_text == ""


def test_select_starting_value_is_the_saved_option() -> None:
    """What read() gives for a select that is not mounted yet (a fast Ctrl+N must not see it blank)."""
    hv = Field("hv", "Hypervisor", "KVM", True, options=("KVM", "Simulator"))
    assert FieldForm((hv,), {"hv": "Simulator"}).initial(hv) == "Simulator"
    assert FieldForm((hv,)).initial(hv) == "KVM"
    assert FieldForm((hv,), {"hv": "Xen"}).initial(hv) == ""
