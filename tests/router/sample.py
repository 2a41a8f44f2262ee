"""A sample RouterConfig used by golden and integration tests (it lives with the router benchmark)."""

from __future__ import annotations

from bench.support.routersample import MAC1, MAC2, PUBGW, SNAT, STATIC, VM1, VM2, sample

__all__ = ["MAC1", "MAC2", "PUBGW", "SNAT", "STATIC", "VM1", "VM2", "sample"]
