"""Appliance figures: image size, build time, boot to "API ready" and to the first guest Running under TCG
(and KVM when present).

Usage: .venv/bin/python bench/appliance.py [--out DIR] [--runs N] [--accel tcg,kvm] [--short]
(--short or BENCH_SHORT=1: sizes, and one TCG boot stopped once the API answers: a minute or two; multi-user
waits for the whole first boot, ten minutes on a loaded machine)
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

from bench.support.appliance import CACHE, boot  # noqa: E402
from bench.support.short import add_short, requested  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def find_out(given: str | None) -> Path | None:
    """The first directory holding a built appliance."""
    candidates = [Path(given)] if given else [CACHE / "appliance-test", REPO / "build" / "appliance"]
    return next((c for c in candidates if (c / "virga-appliance-rootfs.qcow2").exists()), None)


def sizes(out: Path) -> None:
    """Print the artefacts' sizes."""
    for name in (
        "virga-appliance-rootfs.qcow2",
        "virga-appliance.qcow2",
        "virga-appliance.tar",
        "virga-appliance-libvirt.box",
        "virga-appliance-virtualbox.box",
    ):
        if (out / name).exists():
            print(f"size {name}: {(out / name).stat().st_size / 2**20:.0f} MiB")
    if (out / "build-seconds").exists():
        print(f"build time (last build.sh run): {int((out / 'build-seconds').read_text()):d} s")


def phase(marks: dict[str, float], start: str, end: str) -> float | None:
    """Seconds between two console markers, when both were seen."""
    return marks[end] - marks[start] if start in marks and end in marks else None


# (label, start marker or None for QEMU's start, end marker), all from the serial console.
FIGURES = (
    ("boot to multi-user", None, "Multi-User System"),
    ("boot to API answering", None, "creating the root admin's password"),
    ("boot to template ready", None, "template virga-tiny ready"),
    ("boot to first guest Running", None, "first guest virga-first Running"),
    ("boot to cloud ready (first boot done)", None, "VIRGA-STATUS api=ready"),
    ("template registered to ready", "registering the virga-tiny template", "template virga-tiny ready"),
    (
        "first boot (API answering) to first guest Running",
        "creating the root admin's password",
        "first guest virga-first Running",
    ),
    ("template ready to first guest Running", "template virga-tiny ready", "first guest virga-first Running"),
)


SHORT_STOP = ("creating the root admin's password", "Kernel panic")  # short mode: the API-answering figure only
SHORT_FIGURES = FIGURES[1:2]


def boots(out: Path, accel: str, runs: int, short: bool = False) -> None:
    """Boot RUNS times and print the median of each first-boot figure (short: until the API answers)."""
    figures = SHORT_FIGURES if short else FIGURES
    values: dict[str, list[float]] = {label: [] for label, _, _ in figures}
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as work:
            if short:
                result = boot(out, Path(work), timeout=600, accel=accel, stop=SHORT_STOP)
            else:
                result = boot(out, Path(work), timeout=1800, accel=accel)
        for label, start, end in figures:
            got = result.marks.get(end) if start is None else phase(result.marks, start, end)
            if got is not None:
                values[label].append(got)
        if not short:  # short mode stops long before the first boot writes its record
            print(f"first boot's own record ({accel}): {result.status('times')}")
    for label, got in values.items():
        shown = f"{statistics.median(got):.0f} s (median of {len(got)})" if got else "never reached"
        print(f"{label} under {accel.upper()}: {shown}")


def main() -> None:
    """Print every figure available here."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--accel", default="tcg")
    add_short(parser)
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
        boots(out, accel, args.runs, short=args.short or requested())
    print("reference: DevStack takes 15-30 minutes to a working cloud")


if __name__ == "__main__":
    main()
