"""TUI benchmark: 10,000 VMs in the instances table: first paint, filter keystroke, scrolling, RSS.

Run: .venv/bin/python bench/tui.py [--vms 10000] [--runs 3]
The API answers come from an in-memory client serving CloudStack-shaped listVirtualMachines pages, so the
figures measure the TUI (JSON decoding, table, rendering), not the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import time
from typing import Any

from virga.client import VirgaClient
from virga.tui import make_app
from virga.tui.screens.instances import InstancesBase

STATES = ["Running", "Running", "Running", "Stopped", "Starting", "Error"]


def vm(n: int) -> dict[str, Any]:
    """One VM as listVirtualMachines returns it."""
    return {"id": f"00000000-0000-4000-8000-{n:012d}", "name": f"vm-{n:05d}", "displayname": f"vm-{n:05d}",
            "state": STATES[n % len(STATES)], "hostname": f"sim-host-{n % 50}", "hostid": f"h{n % 50}",
            "serviceofferingname": "Small Instance", "templatename": "tiny-linux", "zonename": "bench-zone",
            "zoneid": "z1", "created": "2026-01-05T10:00:00+0000", "account": "admin", "domain": "ROOT",
            "cpunumber": 1, "memory": 512, "nic": [{"ipaddress": f"10.{n // 65536}.{n // 256 % 256}.{n % 256}",
                                                    "isdefault": True, "networkid": "n1"}]}


class BulkClient(VirgaClient):
    """Serves N VMs (as JSON text, decoded per call like a real answer); other lists are empty."""

    def __init__(self, n: int) -> None:
        """Prepare the JSON answer once."""
        super().__init__("http://bench.invalid")
        self.payload = json.dumps({"count": n, "virtualmachine": [vm(i) for i in range(n)]})

    async def _send(self, params: dict[str, str], sign_it: bool = True) -> dict[str, Any]:
        """Answer from memory."""
        if params["command"] == "listVirtualMachines":
            return dict(json.loads(self.payload))
        return {}


class FrameClock:
    """Timestamps of the frames the app composes (headless: composed, not written)."""

    def __init__(self, app: Any) -> None:
        """Wrap the app's display method to record when each frame is ready."""
        self.frames: list[float] = []
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            """Record the frame, then display it as usual."""
            if renderable is not None:
                self.frames.append(time.perf_counter())
            original(screen, renderable)

        app._display = display

    async def keystroke(self, app: Any, key: str, char: str | None, applied: Any) -> float:
        """Seconds from a key event reaching the app to the first frame showing its effect."""
        from textual import events

        t0 = time.perf_counter()
        event = events.Key(key, char)
        event.set_sender(app)
        app._driver.send_message(event)
        while not applied():
            await asyncio.sleep(0.0005)
        t_applied = time.perf_counter()
        while not (self.frames and self.frames[-1] >= t_applied):
            await asyncio.sleep(0.0005)
        return self.frames[-1] - t0


async def one_run(n: int, refresh: float = 3.0) -> dict[str, list[float]]:
    """Start the app on the instances screen, then time filtering and scrolling."""
    client = BulkClient(n)
    app = make_app(client, start="vm", wizard_when_empty=False, refresh_interval=refresh)
    t0 = time.perf_counter()
    out: dict[str, list[float]] = {"paint": [], "filter": [], "scroll": []}
    async with app.run_test(size=(160, 48)) as pilot:
        while not (isinstance(app.screen, InstancesBase) and app.screen.table.loaded):
            await asyncio.sleep(0.005)
        await pilot.pause()
        out["paint"].append(time.perf_counter() - t0)
        await pilot.press("slash")
        for ch in "vm-0123":
            t = time.perf_counter()
            await pilot.press(ch)
            await pilot.pause()
            out["filter"].append(time.perf_counter() - t)
        await pilot.press("escape")
        table = app.screen.table
        clock = FrameClock(app)
        await pilot.press("slash")
        typed = ""
        for ch in "vm-0123":
            typed += ch
            out.setdefault("frame", []).append(await clock.keystroke(
                app, ch, ch, lambda t=typed: table.filter_text == t))
        await pilot.press("escape")
        for text in ("v", "vm", "vm-", "vm-0", "vm-01", "vm-012", ""):
            t = time.perf_counter()
            table.set_filter(text)
            for y in range(table.size.height):
                table.render_line(y)
            out.setdefault("direct", []).append(time.perf_counter() - t)
        for _ in range(40):
            t = time.perf_counter()
            await pilot.press("pagedown")
            await pilot.pause()
            out["scroll"].append(time.perf_counter() - t)
        assert len(app.screen.table.order) == n
    return out


def main() -> None:
    """Run and print medians."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--vms", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    total: dict[str, list[float]] = {"paint": [], "filter": [], "scroll": [], "direct": [], "frame": []}
    for _ in range(args.runs):
        for key, values in asyncio.run(one_run(args.vms)).items():
            total[key] += values
    base = asyncio.run(one_run(10, refresh=3600.0))  # the Pilot's own cost per keystroke (10 rows)
    quiet = asyncio.run(one_run(args.vms, refresh=3600.0))  # no background refresh during the keystrokes
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"VMs in the table:                {args.vms}")
    print(f"start-up to first paint (median): {statistics.median(total['paint']) * 1000:7.0f} ms  (target < 1500)")
    print(f"filter keystroke -> frame:        {statistics.median(total['frame']) * 1000:7.1f} ms  (target < 100; "
          f"max {max(total['frame']) * 1000:.1f})")
    print(f"  Pilot press+pause (idle wait):  {statistics.median(total['filter']) * 1000:7.1f} ms")
    print(f"page-down -> redraw:              {statistics.median(total['scroll']) * 1000:7.1f} ms")
    print(f"  filter + render of the visible lines, direct: "
          f"{statistics.median(quiet['direct']) * 1000:.1f} ms")
    print(f"  without background refresh:     {statistics.median(quiet['frame']) * 1000:7.1f} ms (frame), "
          f"{statistics.median(quiet['filter']) * 1000:.1f} ms (Pilot)")
    print(f"  10 VMs, key -> frame:           {statistics.median(base['frame']) * 1000:7.1f} ms")
    print(f"  Pilot baseline (10 VMs):        {statistics.median(base['filter']) * 1000:7.1f} ms")
    ratio = statistics.median(quiet["filter"]) / statistics.median(base["filter"])
    print(f"  ratio 10,000 / 10 VMs:          {ratio:7.2f}")
    print(f"page-down, no refresh / baseline: {statistics.median(quiet['scroll']) * 1000:7.1f} ms / "
          f"{statistics.median(base['scroll']) * 1000:.1f} ms")
    print(f"max RSS:                          {rss:7.0f} MB  (target < 300)")


if __name__ == "__main__":
    main()
