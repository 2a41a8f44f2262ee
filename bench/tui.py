"""TUI benchmark: 10,000 VMs in the instances table: first paint, key -> frame while refreshing, RSS;
view switches (`:` jumps): switch -> first frame p95, memory after 200 switches, API calls with one view shown.

Run: .venv/bin/python bench/tui.py [--vms 10000] [--runs 3] [--switches 200]
The API answers come from an in-memory HTTP transport serving a CloudStack-shaped listVirtualMachines
body, so the figures measure the TUI and its client (JSON decoding, table, rendering), not the server.
Keystrokes are typed while the table refreshes every REFRESH_S seconds (each refresh decodes the whole
10,000-VM answer), so a decode that blocked the event loop shows up in the p95/max of key -> frame.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from virga.client import VirgaClient
from virga.tui import make_app
from virga.tui.screens.instances import InstancesBase

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.support.short import add_short  # noqa: E402

STATES = ["Running", "Running", "Running", "Stopped", "Starting", "Error"]
REFRESH_S = 0.5  # the table's refresh interval while keys are typed (the app's default is 3 s)
TYPING_GAP_S = 0.03  # between two keystrokes: a fast typist
WORDS = ("vm-01", "run", "host-4", "stop", "10.0.3")


def vm(n: int) -> dict[str, Any]:
    """One VM as listVirtualMachines returns it."""
    return {
        "id": f"00000000-0000-4000-8000-{n:012d}",
        "name": f"vm-{n:05d}",
        "displayname": f"vm-{n:05d}",
        "state": STATES[n % len(STATES)],
        "hostname": f"sim-host-{n % 50}",
        "hostid": f"h{n % 50}",
        "serviceofferingname": "Small Instance",
        "templatename": "tiny-linux",
        "zonename": "bench-zone",
        "zoneid": "z1",
        "created": "2026-01-05T10:00:00+0000",
        "account": "admin",
        "domain": "ROOT",
        "cpunumber": 1,
        "memory": 512,
        "nic": [{"ipaddress": f"10.{n // 65536}.{n // 256 % 256}.{n % 256}", "isdefault": True, "networkid": "n1"}],
    }


class BulkClient(VirgaClient):
    """A real VirgaClient whose HTTP transport answers from memory: N VMs as JSON bytes; other lists empty."""

    def __init__(self, n: int) -> None:
        """Prepare the JSON answer once; every request goes through the client's own send and decode."""
        super().__init__("http://bench.invalid")
        self.vm_lists = 0
        self.requests = 0
        self.payload = json.dumps(
            {"listvirtualmachinesresponse": {"count": n, "virtualmachine": [vm(i) for i in range(n)]}}
        ).encode()
        self.http = httpx.AsyncClient(base_url="http://bench.invalid", transport=httpx.MockTransport(self.answer))

    def answer(self, request: httpx.Request) -> httpx.Response:
        """The VM list for listVirtualMachines, an empty body for anything else."""
        self.requests += 1
        if b"command=listVirtualMachines" in request.content:
            self.vm_lists += 1
            return httpx.Response(200, content=self.payload, headers={"content-type": "application/json"})
        return httpx.Response(200, json={"response": {}})


class FrameClock:
    """Timestamps of the frames the app composes (headless: composed, not written)."""

    def __init__(self, app: Any) -> None:
        """Wrap the app's display method to record when each frame is ready."""
        self.frames: list[float] = []
        self.awaited: Any = None  # the effect a keystroke waits to see in a frame
        self.shown_at: float | None = None  # when the first frame composed with that effect was ready
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            """Record the frame (and whether it is the first with the awaited effect), then display it as usual."""
            if renderable is not None:
                now = time.perf_counter()
                self.frames.append(now)
                if self.awaited is not None and self.awaited():
                    self.awaited, self.shown_at = None, now
            original(screen, renderable)

        app._display = display

    async def keystroke(self, app: Any, key: str, char: str | None, applied: Any) -> float:
        """Seconds from a key event reaching the app to the first frame showing its effect.

        The frame is recognised when it is composed (the effect is already in the app's state then), so
        a frame composed between the key's effect and this coroutine's next look is not missed.
        """
        from textual import events

        self.awaited, self.shown_at = applied, None
        t0 = time.perf_counter()
        event = events.Key(key, char)
        event.set_sender(app)
        app._driver.send_message(event)
        while self.shown_at is None:
            if time.perf_counter() - t0 > 10:
                state = "had no effect" if not applied() else "took effect but no frame showed it"
                raise RuntimeError(f"the key {key!r} {state} within 10 s")
            await asyncio.sleep(0.0005)
        return self.shown_at - t0


async def typing(app: Any, clock: FrameClock, out: list[float]) -> None:
    """Type each word into the filter, then erase it, timing every key from event to frame."""
    table = app.screen.table
    for word in WORDS:
        for end in (*range(1, len(word) + 1), *range(len(word) - 1, -1, -1)):
            grows = end > len(table.filter_text)
            key, char = (word[end - 1], word[end - 1]) if grows else ("backspace", None)
            key = {"-": "minus", ".": "full_stop"}.get(key, key)
            out.append(await clock.keystroke(app, key, char, lambda t=word[:end]: table.filter_text == t))
            await asyncio.sleep(TYPING_GAP_S)


async def scrolling(app: Any, clock: FrameClock, out: list[float]) -> None:
    """Page down 40 times (Home at the bottom), timing every key from event to frame."""
    table = app.screen.table
    for _ in range(40):
        before = table.cursor
        key = "pagedown" if before < len(table.shown) - 1 else "home"  # back to the top at the bottom
        out.append(await clock.keystroke(app, key, None, lambda b=before: table.cursor != b))
        await asyncio.sleep(TYPING_GAP_S)


async def one_run(n: int, refresh: float = REFRESH_S) -> dict[str, list[float]]:
    """Start the app on the instances screen, then time typing a filter and scrolling while it refreshes."""
    client = BulkClient(n)
    app = make_app(client, start="vm", wizard_when_empty=False, refresh_interval=refresh)
    t0 = time.perf_counter()
    out: dict[str, list[float]] = {"paint": [], "frame": [], "scroll": [], "refreshes": []}
    async with app.run_test(size=(160, 48)) as pilot:
        while not (isinstance(app.screen, InstancesBase) and app.screen.table.loaded):
            if time.perf_counter() - t0 > 120:
                raise RuntimeError("the instances table did not load within 120 s")
            await asyncio.sleep(0.005)
        await pilot.pause()
        out["paint"].append(time.perf_counter() - t0)
        clock = FrameClock(app)
        lists = client.vm_lists
        await pilot.press("slash")
        await typing(app, clock, out["frame"])
        await pilot.press("escape")
        await scrolling(app, clock, out["scroll"])
        out["refreshes"].append(client.vm_lists - lists)
        assert len(app.screen.table.order) == n
    return out


SWITCH_WORDS = ("host", "vm", "net", "dash", "vol", "vm", "infra", "zone", "ev", "vm")


def rss_mb() -> float:
    """The process's resident memory now (not its peak), in MB."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


async def switching(n: int, switches: int) -> dict[str, Any]:
    """Jump between views `switches` times: switch -> first frame of the new view, and -> its rows loaded; RSS."""
    import gc

    client = BulkClient(n)
    app = make_app(client, start="vm", wizard_when_empty=False, refresh_interval=3.0)
    shown: list[float] = []
    loaded: list[float] = []
    rss: list[float] = []
    async with app.run_test(size=(160, 48)) as pilot:
        while not (isinstance(app.screen, InstancesBase) and app.screen.table.loaded):
            await asyncio.sleep(0.005)
        clock = FrameClock(app)
        for i in range(switches):
            word = SWITCH_WORDS[i % len(SWITCH_WORDS)]
            before = app.screen
            t0 = time.perf_counter()
            app.goto(word)
            while app.screen is before or not app.screen.is_mounted:
                if time.perf_counter() - t0 > 30:
                    raise RuntimeError(f"the view :{word} did not open within 30 s")
                await asyncio.sleep(0.0005)
            while not (clock.frames and clock.frames[-1] >= t0):
                await asyncio.sleep(0.0005)
            shown.append(clock.frames[-1] - t0)
            table = getattr(app.screen, "table", None)
            if word == "vm" and table is not None:
                while not table.loaded:
                    if time.perf_counter() - t0 > 30:
                        raise RuntimeError("the instances table did not load within 30 s")
                    await asyncio.sleep(0.0005)
                loaded.append(time.perf_counter() - t0)
            if i in (19, switches - 1):
                await pilot.pause(0.2)
                gc.collect()
                rss.append(rss_mb())
        before_calls = client.requests
        await pilot.pause(6.0)
        calls = (client.requests - before_calls) * 10  # per minute
    return {"shown": shown, "loaded": loaded, "rss": rss, "calls": calls}


async def one_view_calls(n: int) -> int:
    """API requests per minute with the instances view alone (never switched)."""
    client = BulkClient(n)
    app = make_app(client, start="vm", wizard_when_empty=False, refresh_interval=3.0)
    async with app.run_test(size=(160, 48)) as pilot:
        while not (isinstance(app.screen, InstancesBase) and app.screen.table.loaded):
            await asyncio.sleep(0.005)
        await pilot.pause(1.0)
        before = client.requests
        await pilot.pause(6.0)
        return (client.requests - before) * 10


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of values, in milliseconds."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def line(label: str, values: list[float]) -> str:
    """p50/p95/max of a list of durations."""
    return (
        f"{label:34} p50 {pct(values, 0.5):6.1f}  p95 {pct(values, 0.95):6.1f}  max {pct(values, 1):6.1f} ms"
        f"  (n={len(values)})"
    )


def main() -> None:
    """Run and print the figures."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--vms", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--switches", type=int, default=200)
    add_short(ap, vms=500, runs=1, switches=40)
    args = ap.parse_args()
    total: dict[str, list[float]] = {}
    for _ in range(args.runs):
        for key, values in asyncio.run(one_run(args.vms)).items():
            total.setdefault(key, []).extend(values)
    quiet = asyncio.run(one_run(args.vms, refresh=3600.0))  # no background refresh during the keystrokes
    base = asyncio.run(one_run(10))  # 10 VMs, same refreshes
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"VMs in the table: {args.vms}; refresh every {REFRESH_S} s while typing "
        f"({int(sum(total['refreshes']))} full list refreshes during the timed keys)"
    )
    print(f"start-up to first paint (median):   {statistics.median(total['paint']) * 1000:6.0f} ms  (target < 1500)")
    print(line("filter keystroke -> frame:", total["frame"]) + "  (target < 100)")
    print(line("page-down -> frame:", total["scroll"]))
    print(line("  filter key, no refresh:", quiet["frame"]))
    print(line("  filter key, 10 VMs:", base["frame"]))
    ratio = statistics.median(total["frame"]) / statistics.median(base["frame"])
    print(f"  p50 ratio {args.vms:,} / 10 VMs:".ljust(36) + f"{ratio:6.2f}")
    print(f"max RSS:                            {rss:6.0f} MB  (target < 300)")
    sw = asyncio.run(switching(args.vms, args.switches))
    alone = asyncio.run(one_view_calls(args.vms))
    print(line(f"view switch -> frame ({args.switches}):", sw["shown"]) + "  (target p95 < 100)")
    print(line(f"  :vm -> {args.vms:,} rows shown:", sw["loaded"]))
    first, last = sw["rss"][0], sw["rss"][-1]
    print(
        f"RSS after 20 / {args.switches} switches:".ljust(36)
        + f"{first:6.0f} / {last:.0f} MB ({(last - first) / first * 100:+.1f}%, target within ±5%)"
    )
    print(
        "API calls/min, one view shown:".ljust(36)
        + f"{sw['calls']:6.0f} after {args.switches} switches, {alone} never switched"
    )


if __name__ == "__main__":
    main()
