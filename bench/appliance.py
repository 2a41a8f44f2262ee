"""Appliance figures: image size, build time, boot to "API ready" under TCG (and KVM when present).

Usage: .venv/bin/python bench/appliance.py [--out DIR] [--runs N] [--accel tcg,kvm]
DIR defaults to ~/.cache/virga/appliance-test (what tests/appliance/test_boot.py builds), then build/appliance.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.appliance.helpers import CACHE, REPO  # noqa: E402
from tests.appliance.qemu_boot import boot  # noqa: E402


def find_out(given: str | None) -> Path | None:
    """The first directory holding a built appliance."""
    candidates = [Path(given)] if given else [CACHE / "appliance-test", REPO / "build" / "appliance"]
    return next((c for c in candidates if (c / "virga-appliance-rootfs.qcow2").exists()), None)


def sizes(out: Path) -> None:
    """Print the artefacts' sizes."""
    for name in ("virga-appliance-rootfs.qcow2", "virga-appliance.qcow2", "virga-appliance.tar",
                 "virga-appliance-libvirt.box", "virga-appliance-virtualbox.box"):
        if (out / name).exists():
            print(f"size {name}: {(out / name).stat().st_size / 2**20:.0f} MiB")
    if (out / "build-seconds").exists():
        print(f"build time (last build.sh run): {int((out / 'build-seconds').read_text()):d} s")


def boots(out: Path, accel: str, runs: int) -> None:
    """Boot RUNS times and print the median time to multi-user and to "API ready"."""
    multi, api, ready, template = [], [], [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as work:
            result = boot(out, Path(work), timeout=1800, accel=accel)
        marks = result.marks
        multi.append(marks.get("Multi-User System"))
        api.append(marks.get("creating the root admin's password"))
        ready.append(marks.get("VIRGA-STATUS api=ready"))
        registered, done = marks.get("registering the virga-tiny template"), marks.get("template virga-tiny ready")
        template.append(done - registered if done is not None and registered is not None else None)
    for label, values in (("boot to multi-user", multi), ("boot to API answering", api),
                          ("boot to cloud ready (first boot done)", ready), ("template registered to ready", template)):
        got = [v for v in values if v is not None]
        shown = f"{statistics.median(got):.0f} s (median of {len(got)})" if got else "never reached"
        print(f"{label} under {accel.upper()}: {shown}")


def main() -> None:
    """Print every figure available here."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--accel", default="tcg")
    args = parser.parse_args()
    out = find_out(args.out)
    if out is None:
        print("no appliance built: run images/appliance/build.sh (or make appliance) first")
        return
    sizes(out)
    for accel in args.accel.split(","):
        if accel == "kvm" and not os.access("/dev/kvm", os.R_OK | os.W_OK):
            print("KVM: /dev/kvm unavailable here")
            continue
        boots(out, accel, args.runs)
    print("reference: DevStack takes 15-30 minutes to a working cloud")


if __name__ == "__main__":
    main()
