"""Pilot tests on the demo data: breadcrumbs, polling of the shown view only, sort, copy, filter, detail, forms."""

from __future__ import annotations

from rich.console import Console
from textual.widgets import Input, Label, Static
from virga.tui import make_app
from virga.tui.app import VirgaTUI
from virga.tui.palette import ActionsProvider
from virga.tui.screens.detail import ObjectScreen
from virga.tui.screens.form import FormScreen, field_named
from virga.tui.screens.help import HelpScreen, bindings_table, view_keys
from virga.tui.screens.resource import ResourceScreen
from virga.tui.widgets.field_form import FieldForm
from virga.tui.widgets.resource_table import ResourceTable, clip, flatten, natural

from tests.tui.conftest import until
from tests.tui.demo import DemoClient, uid


def demo(start: str = "dashboard", interval: float = 60) -> tuple[VirgaTUI, DemoClient]:
    """A strict TUI on the demo data."""
    client = DemoClient()
    app = make_app(
        client,
        strict=True,
        clock=lambda: None,
        start=start,
        wizard_when_empty=False,
        refresh_interval=interval,
        profiles_source=lambda: {"profiles": {}},
    )
    return app, client


def table(t: VirgaTUI) -> ResourceTable:
    """The shown screen's table."""
    assert isinstance(t.screen, ResourceScreen)
    return t.screen.table


def names(t: VirgaTUI) -> list[str]:
    """The shown rows' names, in order."""
    tb = table(t)
    return [tb.items[k].get("name", "") for k in tb.shown]


async def loaded(pilot, t: VirgaTUI) -> None:  # type: ignore[no-untyped-def]
    """Wait for a resource table to be loaded."""
    await until(pilot, lambda: isinstance(t.screen, ResourceScreen) and t.screen.table.loaded)


async def test_jumps_replace_the_view_and_esc_walks_the_breadcrumb_back() -> None:
    t, _ = demo()
    async with t.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.2)
        for word in ("host", "net", "ip", "vol", "vm"):
            await pilot.press("colon", *word, "enter")
            await loaded(pilot, t)
            assert len(t.screen_stack) == 2  # one view at a time: a jump replaces, never stacks
        assert [c.label for c in t.crumbs] == ["Dashboard", "Instances"]
        assert "Dashboard › Instances" in t.screen.sub_title
        await pilot.press("enter")  # the first VM's detail view, one breadcrumb deeper
        await until(pilot, lambda: isinstance(t.screen, ObjectScreen))
        await pilot.press("1")  # its volumes
        await loaded(pilot, t)
        assert t.screen.extra == {"virtualmachineid": uid("vm", 1)}
        assert [c.label for c in t.crumbs] == ["Dashboard", "Instances", "web-1", "Volumes of web-1"]
        assert "Dashboard › … › web-1 › Volumes of web-1" in t.screen.sub_title
        await pilot.press("escape")
        assert isinstance(t.screen, ObjectScreen)
        await pilot.press("escape")
        await loaded(pilot, t)
        assert t.screen.resource.name == "vm"
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert [c.label for c in t.crumbs] == ["Dashboard"]
        await pilot.press("escape")  # the home view stays
        assert len(t.crumbs) == 1 and len(t.screen_stack) == 2
        await pilot.press("colon", *"dash", "enter")  # back home from anywhere clears the crumbs
        assert len(t.crumbs) == 1
    assert not t.internal_errors


async def test_esc_restores_the_filter_sort_and_cursor_of_the_view() -> None:
    t, _ = demo("vm")
    async with t.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, t)
        await pilot.press("slash", *"web", "enter", "o", "down", "enter")
        await until(pilot, lambda: isinstance(t.screen, ObjectScreen))
        assert t.screen.item["name"] == "web-2"
        await pilot.press("escape")
        await loaded(pilot, t)
        tb = table(t)
        assert tb.filter_text == "web" and tb.sort_col == 0
        assert tb.current() is not None and tb.current()["name"] == "web-2"
    assert not t.internal_errors


async def test_only_the_shown_view_polls_however_many_were_visited() -> None:
    t, client = demo("vm", interval=0.2)
    async with t.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, t)
        for word in ["host", "net", "dash", "infra", "ip", "vol", "zone", "acct", "job", "ev"] * 3 + ["vm"]:
            t.goto(word)
            await pilot.pause(0.05)
        await loaded(pilot, t)
        await pilot.pause(0.5)
        before = len(client.calls)
        await pilot.pause(2.0)
        window = client.calls[before:]
        assert len(t.screen_stack) == 2
    assert window, "the shown view refreshes"
    assert set(window) == {"listVirtualMachines"}, window  # 31 views visited: only the shown one reads
    assert len(window) <= 2.0 / 0.2 + 2  # at most one read per refresh interval


async def test_sort_by_key_and_header_click_with_the_direction_shown() -> None:
    t, _ = demo("vm")
    async with t.run_test(size=(160, 40)) as pilot:
        await loaded(pilot, t)
        api_order = names(t)
        await pilot.press("o")
        assert names(t) == sorted(api_order)
        assert "NAME ▲" in str(table(t).render_line(0).text)
        await pilot.press("O")
        assert names(t) == sorted(api_order, reverse=True)
        assert "▼" in str(table(t).render_line(0).text)
        assert "sort NAME ▼" in str(t.screen.query_one("#status", Static).render())
        # a click on the STATE title sorts by state; a second click reverses
        x = 2 + table(t).columns[0].width + 2 + 1
        await pilot.click(ResourceTable, offset=(x, 0))
        states = [table(t).items[k]["state"] for k in table(t).shown]
        assert table(t).sort_col == 1 and states == sorted(states)
        await pilot.click(ResourceTable, offset=(x, 0))
        assert [table(t).items[k]["state"] for k in table(t).shown] == sorted(states, reverse=True)
        # `o` past the last column is back to the API's order
        for _ in range(len(table(t).columns) - 1):
            await pilot.press("o")
        assert table(t).sort_col is None and names(t) == api_order
    assert not t.internal_errors


def test_natural_sort_key_ellipsis_and_flatten() -> None:
    assert sorted(["10", "9", "b", "A"], key=natural) == ["9", "10", "A", "b"]
    assert clip("virga.api.startVirtualMachine", 12) == "virga.api.s…"
    assert clip("short", 8) == "short   "
    assert "10.1.1.11" in flatten({"nic": [{"ipaddress": "10.1.1.11"}], "id": "x"})


async def test_copy_the_selected_id_and_filter_on_ids_and_nested_fields() -> None:
    t, _ = demo("vm")
    async with t.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, t)
        await pilot.press("down", "y")
        assert t.clipboard == uid("vm", 2)
        await pilot.pause(0.05)
        assert f"copied id {uid('vm', 2)}" in str(t.screen.query_one("#status", Static).render())
        await pilot.press("slash", *uid("vm", 3)[-6:], "enter")  # a piece of an id
        assert names(t) == ["db-1"]
        await pilot.press("slash", *"10.1.1.14", "enter")  # an address inside the NIC list
        assert names(t) == ["cache-1"]
    assert not t.internal_errors


async def test_truncated_cells_end_with_an_ellipsis_and_hidden_columns_are_hinted() -> None:
    t, _ = demo("net")
    async with t.run_test(size=(100, 24)) as pilot:
        await loaded(pilot, t)
        row = str(table(t).render_line(1).text)
        assert "DefaultIsolatedNetwor…" in row
        assert str(table(t).render_line(0).text).rstrip().endswith("»")
        assert "more columns ←→" in str(t.screen.query_one("#status", Static).render())
    assert not t.internal_errors


async def test_public_ip_detail_leads_to_its_rules_and_lb_to_its_members() -> None:
    t, _ = demo("ip")
    async with t.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, t)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(t.screen, ObjectScreen))
        side = t.screen.query_one("#related", Static)
        await until(pilot, lambda: "Port forwarding  1" in str(side.render()))
        text = str(side.render())
        assert "Firewall rules  1" in text and "Load balancers  1" in text
        assert "Static NAT" in text and "Release" in text  # the IP's actions, with their keys
        await pilot.press("2")
        await loaded(pilot, t)
        assert t.screen.resource.name == "pf" and names(t) == [""]
        assert table(t).items[uid("pf", 1)]["virtualmachinename"] == "web-1"
        await pilot.press("colon", *"lb", "enter")
        await loaded(pilot, t)
        await pilot.press("enter", "1")
        await until(pilot, lambda: isinstance(t.screen, ResourceScreen) and t.screen.resource.name == "lbvm")
        await loaded(pilot, t)
        assert names(t) == ["web-1", "web-2"]
    assert not t.internal_errors


async def test_form_keeps_its_values_and_shows_the_error_beside_its_field() -> None:
    t, client = demo("pf")
    client.fail["createPortForwardingRule"] = (431, "Invalid parameter publicport value=70000: not a port")
    async with t.run_test(size=(100, 40)) as pilot:
        await loaded(pilot, t)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(t.screen, FormScreen))
        form = t.screen.query_one(FieldForm)
        await until(pilot, lambda: form.read()["ipaddressid"] and form.read()["virtualmachineid"])
        # the VM choices are narrowed to the chosen IP's network (web-net: VMs 1-3)
        await until(
            pilot, lambda: set(t.screen.chosen_items.get("virtualmachineid", {})) == {uid("vm", n) for n in (1, 2, 3)}
        )
        form.query_one("#f-publicport", Input).value = "70000"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "not a port" in str(form.query_one("#e-publicport", Label).render()))
        assert isinstance(t.screen, FormScreen)  # still open, the values kept
        assert form.read()["publicport"] == "70000"
        del client.fail["createPortForwardingRule"]
        form.query_one("#f-publicport", Input).value = "22"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(t.screen, ResourceScreen))
    assert not t.internal_errors


def test_an_error_text_names_its_field() -> None:
    from virga.tui.catalog.base import REGISTRY

    fields = REGISTRY["pf"].actions[0].fields
    assert field_named("Unable to execute API command due to missing parameter virtualmachineid", fields) == (
        "virtualmachineid"
    )
    assert field_named("the job failed", fields) is None
    defaults = {f.name: f.default for f in fields}
    fw = {f.name: f.default for f in REGISTRY["fw"].actions[0].fields}
    assert defaults["publicport"] == fw["startport"] == fw["endport"]  # the firewall opens what is forwarded


async def test_help_is_grouped_without_textual_internals_and_the_palette_puts_virga_first() -> None:
    t, _ = demo("vm")
    async with t.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, t)
        keys = view_keys(t.screen)
        descriptions = [d for _, d in keys]
        assert "Deploy" in descriptions and "Sort" in descriptions and "Copy id" in descriptions
        assert len({k for k, _ in keys}) == len(keys)
        assert not any(d in ("Page Left", "Page Right", "Scroll Up", "Scroll Home") for d in descriptions)
        assert ("↑ k", "Up") in keys  # one line per action, its keys together
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(t.screen, HelpScreen))
        console = Console(width=100, record=True)
        console.print(bindings_table(t.screen.under))
        text = console.export_text()
        assert text.index("This view") < text.index("Deploy") < text.index("Global") < text.index("quit")
        await pilot.press("escape")
        assert t.COMMANDS == {ActionsProvider}
        entries = list(t.palette_entries(t.screen))
        assert entries[0][0] == "Instances: Deploy" and "key n" in entries[0][1]
        assert not any("[" in help_text for _, help_text, _ in entries)  # nothing for Rich to eat as markup
    assert not t.internal_errors


async def test_footer_starts_with_help_quit_jump_and_filter() -> None:
    t, _ = demo("vm")
    async with t.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, t)
        first = list(t.screen.active_bindings)[:4]
        assert first == ["question_mark", "q", "colon", "slash"]
        await pilot.press("colon", *"settings", "enter")
        await pilot.pause(0.2)
        assert "slash" not in [k for k, b in t.screen.active_bindings.items() if b.binding.show and b.enabled]
    assert not t.internal_errors


async def test_failed_jobs_stay_on_the_dashboard_until_acknowledged() -> None:
    t, _ = demo("dashboard")
    async with t.run_test(size=(120, 40)) as pilot:
        panel = t.screen.query_one("#failed", Static)
        await until(pilot, lambda: "Unable to create a deployment for VM batch-1" in str(panel.render()))
        assert "startVirtualMachine" in str(panel.render()) and panel.display
        await pilot.press("colon", *"vm", "enter")
        await loaded(pilot, t)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(t.screen.query("#failed").first(), Static))
        panel = t.screen.query_one("#failed", Static)
        await until(pilot, lambda: "batch-1" in str(panel.render()))  # still there: not acknowledged
        await pilot.press("a")
        assert not panel.display
        await pilot.press("colon", *"vm", "enter")
        await loaded(pilot, t)
        await pilot.press("escape")
        await pilot.pause(0.5)
        assert not t.screen.query_one("#failed", Static).display  # acknowledged for the session
    assert not t.internal_errors
