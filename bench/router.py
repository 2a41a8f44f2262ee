"""Virtual router benchmarks: bring-up time, a 1,000-rule firewall change, memory of N routers.

Run as root: .venv/bin/python bench/router.py [--routers 100] [--runs 5]. Everything lives in
namespaces named vb<pid>...; all of it is destroyed at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from virga.appliance.router import procs, services  # noqa: E402
from virga.appliance.router.apply import RouterManager  # noqa: E402
from virga.appliance.router.model import FirewallRule, PortRange  # noqa: E402
from virga.appliance.router.render import render_nftables  # noqa: E402

from bench.support.routersample import SNAT, sample  # noqa: E402
from bench.support.short import add_short  # noqa: E402


def sid(i: int) -> str:
    """A short id unique to this run."""
    return f"b{os.getpid() % 10000:04d}{i:03d}"


def bring_up(mgr: RouterManager, runs: int) -> list[float]:
    """Time apply() of fresh routers (destroyed after each run)."""
    times = []
    for i in range(runs):
        cfg = sample(sid(900 + i))
        t = time.perf_counter()
        mgr.apply_sync(cfg)
        times.append(time.perf_counter() - t)
        mgr.destroy_sync(cfg.network_uuid)
    return times


def firewall_change(mgr: RouterManager, runs: int) -> tuple[list[float], list[float]]:
    """Apply a 1,000-rule firewall change vs loading the same ruleset with `nft -f` alone."""
    base = sample(sid(800))
    rules = tuple(
        FirewallRule(SNAT, "tcp", PortRange.one(10000 + n), source_cidrs=(f"10.{n // 250}.{n % 250}.0/24",))
        for n in range(1000)
    )
    mgr.apply_sync(dataclasses.replace(base, firewall=rules))
    ns = f"vr-{base.short_id}"
    ours, baseline = [], []
    for i in range(runs):
        cfg = dataclasses.replace(base, firewall=rules[:-1] + (FirewallRule(SNAT, "udp", PortRange.one(20000 + i)),))
        t = time.perf_counter()
        mgr.apply_sync(cfg)
        ours.append(time.perf_counter() - t)
        text = render_nftables(cfg)
        t = time.perf_counter()
        procs.run(["nft", "-f", "-"], netns=ns, stdin=text)
        baseline.append(time.perf_counter() - t)
    mgr.destroy_sync(base.network_uuid)
    return ours, baseline


def memory(mgr: RouterManager, count: int) -> tuple[int, int]:
    """RSS (KiB) of the processes of `count` routers together, and the process count."""
    uuids = []
    try:
        for i in range(count):
            cfg = sample(sid(i))
            mgr.apply_sync(cfg)
            uuids.append(cfg.network_uuid)
        pids = [procs.read_pid(mgr.router_dir(u) / f) for u in uuids for f in ("dnsmasq.pid", "haproxy.pid")]
        pids.append(procs.read_pid(mgr.hub.pidfile))
        live = [p for p in pids if p]
        return sum(procs.rss_kb(p) for p in live), len(live)
    finally:
        for uuid in uuids:
            mgr.destroy_sync(uuid)


def main() -> None:
    """Run the three benchmarks and print figures."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--routers", type=int, default=100)
    ap.add_argument("--runs", type=int, default=5)
    add_short(ap, routers=3, runs=1)
    args = ap.parse_args()
    host = f"vb{os.getpid()}h"
    tmp = Path(tempfile.mkdtemp(prefix="virga-bench-"))
    subprocess.run(["ip", "netns", "add", host], check=True)
    mgr = RouterManager(tmp / "state", host_netns=host)
    try:
        up = bring_up(mgr, args.runs)
        print(
            f"router bring-up (netns, links, dnsmasq, nftables, haproxy, metadata): "
            f"median {statistics.median(up) * 1000:.0f} ms over {args.runs} (target < 1000 ms)"
        )
        ours, nft = firewall_change(mgr, args.runs)
        print(
            f"1,000-rule firewall change via apply(): median {statistics.median(ours) * 1000:.0f} ms; "
            f"`nft -f` alone: {statistics.median(nft) * 1000:.0f} ms; ratio "
            f"{statistics.median(ours) / statistics.median(nft):.2f}x (target < 200 ms)"
        )
        rss, nproc = memory(mgr, args.routers)
        print(f"{args.routers} routers: {nproc} processes, RSS {rss / 1024:.0f} MiB together (target < 1024 MiB)")
    finally:
        for uuid in mgr.list_routers():
            mgr.destroy_sync(uuid)
        services.MetadataHub(mgr.state_dir).stop()
        subprocess.run(["ip", "netns", "del", host])
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
