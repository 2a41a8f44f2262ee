"""The simulator's image-store transfer backend: downloads advance step by step in memory, nothing is a file."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

from virga.drivers.simulator.world import WORLD

GIB = 2**30
STEPS = (10, 25, 50, 75, 90)
STORE = "image-store"  # the world's name of the simulated image store (configureSimulator rules target it)


def _size(url: str) -> int:
    """The size of a simulated template: ?size=NG in its URL, else 2 GiB."""
    query = parse_qs(urlparse(url).query)
    text = (query.get("size") or ["2G"])[0].strip().upper()
    try:
        return int(float(text.rstrip("G")) * GIB) if text.endswith("G") else int(text)
    except ValueError:
        return 2 * GIB


class SimulatedTransfers:
    """Images of simulator zones: downloads are simulated (with the world's injected behaviour), no file exists."""

    files = False
    label = "simulator"
    url_scheme = "simulator"
    why_no_files = "the simulator keeps disks in memory"

    async def download(self, job: Any) -> dict[str, Any]:
        """Advance a simulated download of job.url (a virga.services.transfers.Download), applying the simulator's
        injected behaviour and reporting progress through job.progress; the template's new fields."""
        for pct in STEPS:
            await WORLD.behave("download_template", STORE)
            await job.progress(pct)
        await WORLD.behave("download_template", STORE)
        size = _size(job.url)
        return {"install_path": job.url, "size": size, "physicalsize": size // 4}
