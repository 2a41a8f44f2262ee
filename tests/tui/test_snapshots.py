"""Snapshots of every screen at 80x24 and 160x45, built through make_app() on fixed demo data."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot
from virga.tui import make_app
from virga.tui.catalog.base import REGISTRY

from tests.tui.demo import DemoClient

SPECIAL = ["dashboard", "infra", "wizard", "settings"]
SCREENS = SPECIAL + sorted(REGISTRY)
SIZES = [(80, 24), (160, 45)]
READS = {"choices", "defaults", "refresh", "dash", "tree", "detail"}  # worker groups that read (and end)
# views reached by keys from a start screen: (start, keys)
OVERLAYS = {
    "vm-detail": ("vm", ("enter",)),
    "ip-detail": ("ip", ("enter",)),
    "lb-detail": ("lb", ("enter",)),
    "net-detail": ("net", ("enter",)),
    "host-detail": ("host", ("enter",)),
    "deploy-form": ("vm", ("n",)),
    "pf-form": ("pf", ("n",)),
    "help": ("vm", ("question_mark",)),
    "confirm": ("vm", ("S",)),
    "sorted-copied": ("vm", ("o", "O", "down", "y")),
    "scrolled-right": ("vm", ("right",) * 30),
    "breadcrumb": ("dashboard", ("colon", *"host", "enter", "enter", "1")),
}


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
    reads = [w for w in pilot.app.workers if w.group in READS]
    if reads:  # (an empty list would wait for every worker, a form's action included)
        await pilot.app.workers.wait_for_complete(reads)  # the reads started (choices, defaults) are done
    await pilot.pause(0.1)
    await pilot.wait_for_scheduled_animations()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", SCREENS)
def test_screen(snap_compare, screen: str, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(demo_app(screen), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("view", sorted(OVERLAYS))
def test_view_reached_by_keys(snap_compare, view: str, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    start, keys = OVERLAYS[view]

    async def act(pilot: Pilot[None]) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await pilot.pause(0.05)
        await settle(pilot)
        await settle(pilot)  # choices loaded, then what follows them (e.g. the zone's hypervisor)

    assert snap_compare(demo_app(start), terminal_size=size, run_before=act)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_vm_with_marks_filter_and_learning_pane(snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def act(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press("space", "down", "f2", "slash", *"web", "enter")
        await pilot.app.api.act("stopVirtualMachine", "Stop web-1", quiet=True, id="vm000000-0000-4000-8000-1")
        await settle(pilot)

    assert snap_compare(demo_app("vm"), terminal_size=size, run_before=act)
