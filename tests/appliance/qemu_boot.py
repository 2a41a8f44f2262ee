"""Booting a built appliance under QEMU (it lives with the benchmarks, which boot it too)."""

from __future__ import annotations

from bench.support.appliance import DONE_MARKERS, PHASE_MARKERS, BootResult, boot, qemu_command

__all__ = ["DONE_MARKERS", "PHASE_MARKERS", "BootResult", "boot", "qemu_command"]
