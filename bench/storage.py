"""Storage benchmarks: template download vs curl, copy-to-primary vs qemu-img convert, snapshot backup vs convert.

Run as root: .venv/bin/python bench/storage.py [--runs 7] [--size-mib 256] [--only download|copy|backup]
Starts nfs-ganesha in a private netns and a local HTTP server process; removes everything afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for bench.support

from virga.appliance.storage import ImageStore, download  # noqa: E402
from virga.appliance.storage.ganesha import Ganesha  # noqa: E402
from virga.appliance.storage.layout import snapshot_path, template_path  # noqa: E402
from virga.appliance.storage.netns import NetnsLink  # noqa: E402
from virga.appliance.storage.primary import backup_snapshot, ensure_on_primary  # noqa: E402

from bench.support.short import add_short  # noqa: E402

dl: Any = importlib.import_module("virga.appliance.storage.download")  # the module (the package exports the function)


def sh(*argv: str) -> None:
    """Run a command, failing loudly."""
    subprocess.run(argv, check=True, capture_output=True)


async def timed(fn: Callable[[], Awaitable[object]]) -> float:
    """Seconds one awaited call takes."""
    t = time.perf_counter()
    await fn()
    return time.perf_counter() - t


def report(name: str, ours: list[float], base: list[float], size: int) -> None:
    """Print medians, throughput and the ratio (baseline time / our time; >= 0.9 is the target)."""
    mo, mb = statistics.median(ours), statistics.median(base)
    mib = size / (1 << 20)
    print(
        f"{name:40s} virga {mib / mo:7.1f} MiB/s ({mo:.2f}s)  baseline {mib / mb:7.1f} MiB/s ({mb:.2f}s)"
        f"  ratio {mb / mo:.2f}"
    )


async def _virga_fetch(url: str, store: ImageStore, work: Path, digest: str | None) -> tuple[float, float]:
    """One download() call: (seconds until the body is staged and hashed, i.e. landing starts; the whole job)."""
    marks: list[float] = []
    real_land = dl.land

    async def timed_land(*a: Any, **k: Any) -> Any:
        marks.append(time.perf_counter())
        return await real_land(*a, **k)

    dl.land = timed_land
    try:
        t0 = time.perf_counter()
        await download(
            url,
            store,
            template_path(1, uuid.uuid4().hex[:8], "t", "qcow2"),
            checksum=digest,
            expected_format="qcow2",
            staging_dir=str(work / "staging"),
        )
        return marks[-1] - t0, time.perf_counter() - t0
    finally:
        dl.land = real_land


async def _shell(cmd: str) -> float:
    """Seconds a shell command takes (run in a thread, failing loudly)."""
    return await timed(lambda: asyncio.to_thread(sh, "sh", "-c", cmd))


async def bench_download(work: Path, store: ImageStore, base_url: str, runs: int) -> None:
    """download() vs curl doing the same transfer to the same place, interleaved run by run.

    Baselines: `curl -o <staging dir>/file` (the same destination as virga's staging file); the same followed by
    `sha256sum` (the same work as a download with a sha256 checksum, done one after the other); curl, sha256sum
    and `nfs-cp` to the store (the whole job: virga also runs qemu-img info/check before landing the file).
    """
    img = work / "www" / "tmpl.qcow2"
    size = img.stat().st_size
    digest = hashlib.sha256(img.read_bytes()).hexdigest()
    url, out = f"{base_url}/tmpl.qcow2", work / "staging" / "curl.out"
    out.parent.mkdir(exist_ok=True)
    fig: dict[str, list[float]] = {k: [] for k in ("plain", "hashed", "job", "curl", "curl_sum", "curl_cp")}
    for _ in range(runs):
        fig["plain"].append((await _virga_fetch(url, store, work, None))[0])
        fig["curl"].append(await _shell(f"curl -sSf -o '{out}' '{url}'"))
        out.unlink()
        fetched, job = await _virga_fetch(url, store, work, digest)
        fig["hashed"].append(fetched)
        fig["job"].append(job)
        fig["curl_sum"].append(await _shell(f"curl -sSf -o '{out}' '{url}' && sha256sum '{out}' >/dev/null"))
        out.unlink()
        dest = store.url_for(f"curl-{uuid.uuid4().hex[:6]}.qcow2")
        fig["curl_cp"].append(
            await _shell(f"curl -sSf -o '{out}' '{url}' && sha256sum '{out}' >/dev/null && nfs-cp '{out}' '{dest}'")
        )
        out.unlink()
    report("download, no checksum vs curl -o", fig["plain"], fig["curl"], size)
    report("download+sha256 vs curl -o", fig["hashed"], fig["curl"], size)
    report("download+sha256 vs curl -o;sha256sum", fig["hashed"], fig["curl_sum"], size)
    report("download job vs curl;sha256sum;nfs-cp", fig["job"], fig["curl_cp"], size)


async def bench_copy_to_primary(work: Path, store: ImageStore, runs: int) -> None:
    """ensure_on_primary vs a plain qemu-img convert nfs:// -> local qcow2."""
    path = template_path(1, "prim", "p", "qcow2")
    if not await store.exists(path):
        await store.put_file(str(work / "www" / "tmpl.qcow2"), path)
    ours, base = [], []
    for i in range(runs):
        pool = work / f"pool{i}"
        pool.mkdir()
        ours.append(await timed(partial(ensure_on_primary, store, path, pool)))
        dst = work / f"plain{i}.qcow2"
        base.append(
            await timed(
                partial(
                    asyncio.to_thread,
                    sh,
                    "qemu-img",
                    "convert",
                    "-f",
                    "qcow2",
                    "-O",
                    "qcow2",
                    store.url_for(path),
                    str(dst),
                )
            )
        )
        shutil.rmtree(pool)
        dst.unlink()
    report("copy-to-primary vs qemu-img convert", ours, base, (work / "www" / "tmpl.qcow2").stat().st_size)


async def bench_backup(work: Path, store: ImageStore, runs: int) -> None:
    """backup_snapshot of a 1 GiB volume with 200 MB written vs qemu-img convert to nfs://."""
    vol = work / "vol.qcow2"
    sh("qemu-img", "create", "-q", "-f", "qcow2", str(vol), "1G")
    sh("qemu-io", "-f", "qcow2", "-c", "write -P 0x5c 0 200M", str(vol))
    ours, base = [], []
    for _ in range(runs):
        dest = snapshot_path(1, 1, str(uuid.uuid4()))
        ours.append(await timed(partial(backup_snapshot, str(vol), store, dest)))
        url = store.url_for(f"plain-{uuid.uuid4().hex[:6]}.qcow2")
        base.append(
            await timed(
                partial(asyncio.to_thread, sh, "qemu-img", "convert", "-f", "qcow2", "-O", "qcow2", str(vol), url)
            )
        )
    report("snapshot backup (200M/1G) vs convert", ours, base, 200 << 20)


def cpu_sample() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def load_line(before: tuple[int, int], label: str) -> str:
    """How loaded the (shared) machine was: load averages now and CPU busy share since `before`."""
    busy, total = cpu_sample()
    share = 100 * (busy - before[0]) / max(1, total - before[1])
    one, five, _ = os.getloadavg()
    return (
        f"{label}: load average {one:.2f} (1 min) {five:.2f} (5 min), {os.cpu_count()} CPUs "
        f"{share:.0f}% busy over the run (this benchmark included)"
    )


async def main() -> None:
    """Set up ganesha + HTTP server, run the three benchmarks, tear down."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--only", choices=("download", "copy", "backup"), help="run one benchmark")
    ap.add_argument("--size-mib", type=int, default=256)
    add_short(ap, runs=1, size_mib=16)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="virga-bench-") as tmp:
        work = Path(tmp)
        (work / "export").mkdir()
        (work / "www").mkdir()
        raw = work / "seed.raw"
        sh("dd", "if=/dev/urandom", f"of={raw}", "bs=1M", f"count={args.size_mib}")
        sh("qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(work / "www" / "tmpl.qcow2"))
        raw.unlink()
        link = NetnsLink.create()
        g = Ganesha(work / "ganesha", link.ns_addr, netns=link.name, private_rpcbind=True)
        srv = subprocess.Popen(
            [sys.executable, "-m", "bench.support.httpserver", "--root", str(work / "www")],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            port = int(srv.stdout.readline()) if srv.stdout else 0
            await g.export(str(work / "export"))
            await g.start()
            store = ImageStore(g.url_for(str(work / "export")))
            one, five, _ = os.getloadavg()
            print(
                f"runs={args.runs}, template {args.size_mib} MiB of random data (qcow2), medians; "
                f"load average before: {one:.2f} (1 min) {five:.2f} (5 min)"
            )
            started = cpu_sample()
            if args.only in (None, "download"):
                await bench_download(work, store, f"http://127.0.0.1:{port}", args.runs)
            if args.only in (None, "copy"):
                await bench_copy_to_primary(work, store, args.runs)
            if args.only in (None, "backup"):
                await bench_backup(work, store, args.runs)
            print(load_line(started, "machine"))
        finally:
            srv.terminate()
            srv.wait()
            await g.stop()
            link.destroy()


if __name__ == "__main__":
    asyncio.run(main())
