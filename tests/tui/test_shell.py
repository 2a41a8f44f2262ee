"""The app shell: jumps, help, palette, Esc, API errors as notifications, the connection banner."""

from __future__ import annotations

import httpx
import pytest
from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.tui.catalog.base import REGISTRY
from virga.tui.screens.dashboard import DashboardScreen
from virga.tui.screens.help import HelpScreen
from virga.tui.screens.resource import ResourceScreen
from virga.tui.screens.settings import SettingsScreen
from virga.tui.widgets.banner import ConnectionBanner

from tests.factories import Cloud
from tests.tui.conftest import tui, until


def messages(t) -> list[str]:  # type: ignore[no-untyped-def]
    return [f"{n.title} {n.message}" for n in t._notifications]


async def test_help_lists_the_screen_bindings_and_esc_goes_back(
    app: VirgaApp, admin: VirgaClient, cloud: Cloud
) -> None:
    t = tui(admin)
    async with t.run_test(size=(120, 40)) as pilot:
        await pilot.press("colon", *"host", "enter")
        await until(pilot, lambda: isinstance(t.screen, ResourceScreen))
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(t.screen, HelpScreen))
        table = t.screen.query_one("#keys").render()
        text = str(getattr(table, "renderable", table))
        await pilot.press("escape")
        assert isinstance(t.screen, ResourceScreen)
        await pilot.press("escape")
        assert isinstance(t.screen, DashboardScreen)
        await pilot.press("escape")  # the first screen stays
        assert isinstance(t.screen, DashboardScreen)
    assert text


@pytest.mark.parametrize("word", sorted(REGISTRY))
async def test_every_resource_screen_opens_without_crashing(
    app: VirgaApp, admin: VirgaClient, cloud: Cloud, word: str
) -> None:
    t = tui(admin, start=word)
    async with t.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(t.screen, ResourceScreen))
        await until(pilot, lambda: t.screen.table.loaded or t._notifications)
        await pilot.press("enter")
        await pilot.pause(0.1)
    assert not t.internal_errors


async def test_unknown_command_is_a_notification(app: VirgaApp, admin: VirgaClient) -> None:
    t = tui(admin)
    async with t.run_test(size=(100, 30)) as pilot:
        body = await t.api.act("noSuchCommand", x="1")
        await pilot.pause(0.1)
        assert body is None
        assert any("432" in m for m in messages(t))
        await pilot.press("colon", *"nothing-like-this", "enter")
        await pilot.pause(0.1)
        assert any("unknown resource" in m for m in messages(t))
        # an API error from an action carries its errortext
        assert await t.api.act("deployVirtualMachine", zoneid="x", templateid="y", serviceofferingid="z") is None
        await pilot.pause(0.1)
        assert any("error 431" in m for m in messages(t))
    assert not t.internal_errors


async def test_lost_connection_shows_a_banner_and_reconnects(app: VirgaApp, admin: VirgaClient) -> None:
    good = admin.http._transport

    class Down(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("connection refused")

    t = tui(admin)
    async with t.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.2)
        admin.http._transport = Down()
        await until(pilot, lambda: not t.connected)
        banner = t.screen.query_one(ConnectionBanner)
        assert banner.has_class("lost") and "reconnecting" in str(banner.render())
        admin.http._transport = good
        await until(pilot, lambda: t.connected, timeout=10)
        assert not banner.has_class("lost")
    assert not t.internal_errors


async def test_palette_and_settings(app: VirgaApp, admin: VirgaClient) -> None:
    t = tui(admin)
    async with t.run_test(size=(100, 30)) as pilot:
        titles = [title for title, _, _ in t.palette_entries(t.screen)]
        assert "Go to Instances" in titles and "Add a zone (setup wizard)" in titles
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"settings", "enter")
        await until(pilot, lambda: isinstance(t.screen, SettingsScreen))
        t.screen.query_one("#theme").value = "textual-light"
        await pilot.pause(0.1)
        assert t.theme == "textual-light"
    assert not t.internal_errors
