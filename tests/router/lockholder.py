"""A process that applies a router through RouterManager.apply, its converge step instrumented.

`python -m tests.router.lockholder STATE_DIR LOG NAME RELEASE` appends `NAME <event> <monotonic ns>`
lines to LOG: `calling` before apply(), `tick` from a task of the same event loop while apply() waits
(the loop must not block), `start` once inside the router's lock, then it waits for the RELEASE file
to exist, writes `end` and leaves the lock. CLOCK_MONOTONIC is one clock for every process.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from virga.appliance.router.apply import ApplyResult, RouterManager
from virga.appliance.router.model import RouterConfig

from tests.router.sample import sample


def note(log: Path, name: str, event: str) -> None:
    """Append one timestamped line (O_APPEND: lines of several processes never interleave)."""
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{name} {event} {time.monotonic_ns()}\n".encode())
    finally:
        os.close(fd)


class Instrumented(RouterManager):
    """A RouterManager whose converge step only records when it runs and waits for a release file."""

    def __init__(self, state_dir: Path, log: Path, name: str, release: Path) -> None:
        """Remember where to log and what to wait for."""
        super().__init__(state_dir)
        self.log, self.name, self.release = log, name, release

    def _apply_valid(self, cfg: RouterConfig) -> ApplyResult:
        """Record start, hold the router until the release file exists, record end."""
        note(self.log, self.name, "start")
        while not self.release.exists():
            time.sleep(0.02)
        note(self.log, self.name, "end")
        return ApplyResult(cfg.network_uuid, ())


async def run(state_dir: Path, log: Path, name: str, release: Path) -> None:
    """Apply the sample router while a ticker shows the event loop keeps running."""
    mgr = Instrumented(state_dir, log, name, release)

    async def tick() -> None:
        """Log a tick every 50 ms."""
        while True:
            note(log, name, "tick")
            await asyncio.sleep(0.05)

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0)
    note(log, name, "calling")
    await mgr.apply(sample())
    ticker.cancel()


if __name__ == "__main__":
    asyncio.run(run(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4])))
