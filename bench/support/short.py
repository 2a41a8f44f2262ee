"""The benchmarks' short mode: the same code and figure lines on small inputs, in seconds (CI runs it)."""

from __future__ import annotations

import argparse
import os
import sys


def requested(argv: list[str] | None = None) -> bool:
    """Whether short mode is asked for: --short on the command line, or BENCH_SHORT=1 in the environment."""
    return "--short" in (sys.argv[1:] if argv is None else argv) or os.environ.get("BENCH_SHORT") == "1"


def add_short(ap: argparse.ArgumentParser, **defaults: object) -> None:
    """Give a benchmark --short, which swaps in these defaults (options given explicitly still win)."""
    ap.add_argument("--short", action="store_true", help=f"small run, seconds not minutes: {defaults}")
    if requested():
        ap.set_defaults(**defaults)
