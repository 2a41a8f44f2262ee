"""Storage benchmarks: template download vs curl, copy-to-primary vs qemu-img convert, snapshot backup vs convert.

Run as root: .venv/bin/python bench/storage.py [--runs 5] [--size-mib 256]
Starts nfs-ganesha in a private netns and a local HTTP server process; removes everything afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.storage helpers

from virga.appliance.storage import ImageStore, download  # noqa: E402
from virga.appliance.storage.ganesha import Ganesha  # noqa: E402
from virga.appliance.storage.layout import snapshot_path, template_path  # noqa: E402
from virga.appliance.storage.primary import backup_snapshot, ensure_on_primary  # noqa: E402

from tests.storage.netns import NetnsLink  # noqa: E402


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
    print(f"{name:34s} virga {mib / mo:7.1f} MiB/s ({mo:.2f}s)  baseline {mib / mb:7.1f} MiB/s ({mb:.2f}s)"
          f"  ratio {mb / mo:.2f}")


async def bench_download(work: Path, store: ImageStore, base_url: str, runs: int) -> None:
    """download() (fetch + sha256 to staging; then the whole job incl. NFS landing) vs curl (+ nfs-cp).

    curl alone does not hash; `curl | tee file | openssl dgst -sha256` does the same work as the fetch.
    """
    img = work / "www" / "tmpl.qcow2"
    size = img.stat().st_size
    digest = hashlib.sha256(img.read_bytes()).hexdigest()
    fetch, total, curl, curl_cp, curl_sum = [], [], [], [], []
    for _ in range(runs):
        marks: list[float] = []
        t0 = time.perf_counter()
        await download(f"{base_url}/tmpl.qcow2", store, template_path(1, uuid.uuid4().hex[:8], "t", "qcow2"),
                       checksum=digest, expected_format="qcow2", staging_dir=str(work / "staging"),
                       progress=lambda p, b, marks=marks: marks.append(time.perf_counter()) if p == 100 else None)
        total.append(time.perf_counter() - t0)
        fetch.append(marks[-1] - t0)
        out = work / "curl.out"
        t0 = time.perf_counter()
        sh("curl", "-sf", "-o", str(out), f"{base_url}/tmpl.qcow2")
        curl.append(time.perf_counter() - t0)
        sh("nfs-cp", str(out), store.url_for(f"curl-{uuid.uuid4().hex[:6]}.qcow2"))
        curl_cp.append(time.perf_counter() - t0)
        out.unlink()
        t0 = time.perf_counter()
        sh("sh", "-c", f"curl -sf '{base_url}/tmpl.qcow2' | tee '{out}' | openssl dgst -sha256 >/dev/null")
        curl_sum.append(time.perf_counter() - t0)
        out.unlink()
    report("download fetch+sha256 vs curl", fetch, curl, size)
    report("download fetch+sha256 vs curl|tee|openssl sha256", fetch, curl_sum, size)
    report("download job (+verify+NFS) vs curl+nfs-cp", total, curl_cp, size)


async def bench_copy_to_primary(work: Path, store: ImageStore, runs: int) -> None:
    """ensure_on_primary vs a plain qemu-img convert nfs:// -> local qcow2."""
    path = template_path(1, "prim", "p", "qcow2")
    if not await store.exists(path):
        await store.put_file(str(work / "www" / "tmpl.qcow2"), path)
    ours, base = [], []
    for i in range(runs):
        pool = work / f"pool{i}"
        pool.mkdir()
        ours.append(await timed(lambda pool=pool: ensure_on_primary(store, path, pool)))
        dst = work / f"plain{i}.qcow2"
        base.append(await timed(lambda dst=dst: asyncio.to_thread(
            sh, "qemu-img", "convert", "-f", "qcow2", "-O", "qcow2", store.url_for(path), str(dst))))
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
        ours.append(await timed(lambda dest=dest: backup_snapshot(str(vol), store, dest)))
        url = store.url_for(f"plain-{uuid.uuid4().hex[:6]}.qcow2")
        base.append(await timed(lambda url=url: asyncio.to_thread(
            sh, "qemu-img", "convert", "-f", "qcow2", "-O", "qcow2", str(vol), url)))
    report("snapshot backup (200M/1G) vs convert", ours, base, 200 << 20)


async def main() -> None:
    """Set up ganesha + HTTP server, run the three benchmarks, tear down."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--size-mib", type=int, default=256)
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
        srv = subprocess.Popen([sys.executable, "-m", "tests.storage.httpserver", "--root", str(work / "www")],
                               stdout=subprocess.PIPE, text=True)
        try:
            port = int(srv.stdout.readline()) if srv.stdout else 0
            await g.export(str(work / "export"))
            await g.start()
            store = ImageStore(g.url_for(str(work / "export")))
            print(f"runs={args.runs}, template {args.size_mib} MiB of random data (qcow2), medians:")
            await bench_download(work, store, f"http://127.0.0.1:{port}", args.runs)
            await bench_copy_to_primary(work, store, args.runs)
            await bench_backup(work, store, args.runs)
        finally:
            srv.terminate()
            srv.wait()
            await g.stop()
            link.destroy()


if __name__ == "__main__":
    asyncio.run(main())
