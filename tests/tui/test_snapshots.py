"""Snapshots of every screen at 80x24 and 160x48, built through make_app() on fixed demo data."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot
from virga.tui import make_app

from tests.tui.demo import DemoClient

SCREENS = [
    "dashboard",
    "vm",
    "infra",
    "wizard",
    "settings",
    "host",
    "zone",
    "vol",
    "snap",
    "tmpl",
    "net",
    "ip",
    "acct",
    "so",
    "job",
    "ev",
    "alert",
]
SIZES = [(80, 24), (160, 48)]


def demo_app(start: str):  # type: ignore[no-untyped-def]
    return make_app(
        DemoClient(),
        clock=lambda: None,
        start=start,
        wizard_when_empty=False,
        refresh_interval=60,
        profiles_source=lambda: {"default": "lab", "profiles": {"lab": {"url": "", "username": "admin"}}},
    )


async def settle(pilot: Pilot[None]) -> None:
    await pilot.pause(0.4)
    await pilot.wait_for_scheduled_animations()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", SCREENS)
def test_screen(snap_compare, screen: str, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(demo_app(screen), terminal_size=size, run_before=settle)


def test_vm_with_marks_filter_and_learning_pane(snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def act(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press("space", "down", "f2", "slash", *"web", "enter")
        await pilot.app.api.act("stopVirtualMachine", "Stop web-1", quiet=True, id="vm000000-0000-4000-8000-1")
        await settle(pilot)

    assert snap_compare(demo_app("vm"), terminal_size=(160, 48), run_before=act)


def test_help_and_confirm(snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def act(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)

    assert snap_compare(demo_app("vm"), terminal_size=(100, 40), run_before=act)

    async def confirm(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press("S")
        await settle(pilot)

    assert snap_compare(demo_app("vm"), terminal_size=(100, 30), run_before=confirm)
