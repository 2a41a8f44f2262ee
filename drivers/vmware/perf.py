"""Disk and network totals of a VM from the vSphere PerformanceManager's realtime samples.

vSphere only reports rates averaged over each 20-second sample (KBps, requests per second) and keeps
about one hour of realtime samples. A total "since the VM started" is the sum of rate x interval over
every sample since power-on, so the driver keeps a running tally per VM: the first reading must reach
back to the boot time (runtime.bootTime, or the moment this driver powered the VM on) and each later
reading must overlap the previous one. When that chain cannot be established (boot time unknown, older
than the realtime window, or a reading missing/misaligned) the totals are unknown (None), never zero.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyVmomi import vim

REALTIME_INTERVAL = 20
MAX_SAMPLES = 180  # one hour of 20-second samples: vSphere's realtime window
KB = 1024

# InstanceStats field -> (counters in order of preference "group.name.rollup", factor to bytes or ops)
FIELDS: dict[str, tuple[tuple[str, ...], int]] = {
    "net_rx_bytes": (("net.received.average",), KB),
    "net_tx_bytes": (("net.transmitted.average",), KB),
    "disk_read_bytes": (("virtualDisk.read.average",), KB),
    "disk_write_bytes": (("virtualDisk.write.average",), KB),
    "disk_read_ops": (("virtualDisk.numberReadAveraged.average", "datastore.numberReadAveraged.average"), 1),
    "disk_write_ops": (("virtualDisk.numberWriteAveraged.average", "datastore.numberWriteAveraged.average"), 1),
}
UNKNOWN: dict[str, int | None] = dict.fromkeys(FIELDS)


@dataclass(frozen=True)
class Reading:
    """One QueryPerf answer reduced to plain data: sample ends, interval, series per counter name."""

    ends: tuple[dt.datetime, ...]
    interval: int
    series: Mapping[str, Sequence[tuple[str, Sequence[int]]]]  # counter -> [(instance, values)]


def counter_rate(reading: Reading, counter: str, keep: Sequence[bool]) -> float | None:
    """Sum of value x interval over the kept samples of one counter, or None when not usable.

    The aggregate instance ("") is used when present, else the per-device instances are summed.
    A series whose length differs from the sample count, or a -1 ("no data") value, makes it unknown.
    """
    rows = list(reading.series.get(counter, ()))
    aggregate = [r for r in rows if r[0] == ""]
    rows = aggregate or rows
    if not rows:
        return None
    total = 0.0
    for _instance, values in rows:
        if len(values) != len(reading.ends):
            return None
        for value, kept in zip(values, keep, strict=True):
            if kept and value < 0:
                return None
            total += value * reading.interval if kept else 0
    return total


def totals(reading: Reading, after: dt.datetime) -> dict[str, int | None]:
    """Bytes and operations of the samples ending after a time, per InstanceStats field (pure)."""
    keep = [end > after for end in reading.ends]
    out: dict[str, int | None] = {}
    for name, (counters, factor) in FIELDS.items():
        value = next((v for c in counters if (v := counter_rate(reading, c, keep)) is not None), None)
        out[name] = None if value is None else int(value * factor)
    return out


def covers(reading: Reading, since: dt.datetime) -> bool:
    """Whether the samples reach back to a time (the oldest sample starts at or before it)."""
    if not reading.ends:
        return False
    oldest = min(reading.ends) - dt.timedelta(seconds=reading.interval)
    return oldest <= since


@dataclass
class Tally:
    """Running totals of one VM since its boot, up to the last sample counted."""

    boot: dt.datetime
    last: dt.datetime
    sums: dict[str, int | None] = field(default_factory=lambda: dict(UNKNOWN))


class PerfReader:
    """Counter ids of one session and the per-VM tallies of one driver."""

    def __init__(self) -> None:
        """No counters resolved and no tallies yet."""
        self._ids: dict[str, int] = {}
        self._tallies: dict[str, Tally] = {}
        self._powered: dict[str, dt.datetime] = {}

    def powered_on(self, uuid: str, when: dt.datetime) -> None:
        """Note that this driver powered a VM on at a server time (its boot when bootTime is unset)."""
        self._powered[uuid] = when
        self._tallies.pop(uuid, None)

    def forget(self, uuid: str) -> None:
        """Drop what is known of a VM (destroyed)."""
        self._powered.pop(uuid, None)
        self._tallies.pop(uuid, None)

    def read(
        self, pm: vim.PerformanceManager, vm: vim.VirtualMachine, uuid: str, boot: dt.datetime | None
    ) -> dict[str, int | None]:
        """Totals since boot per InstanceStats field (None where vSphere cannot give them)."""
        boot = boot or self._powered.get(uuid)
        if boot is None:
            return dict(UNKNOWN)
        tally = self._tallies.get(uuid)
        fresh = tally is None or tally.boot != boot
        since = boot if fresh or tally is None else tally.last
        reading = self._query(pm, vm, since - dt.timedelta(seconds=REALTIME_INTERVAL))
        if reading is None:
            return dict(UNKNOWN)  # no sample yet (just powered on) or none served
        if not covers(reading, since):
            self._tallies.pop(uuid, None)  # the chain back to boot is lost for good
            return dict(UNKNOWN)
        if fresh or tally is None:
            tally = Tally(boot=boot, last=boot, sums=dict.fromkeys(FIELDS, 0))
        added = totals(reading, tally.last)
        tally.sums = {k: None if v is None or added[k] is None else v + (added[k] or 0) for k, v in tally.sums.items()}
        tally.last = max(tally.last, *reading.ends)
        self._tallies[uuid] = tally
        return dict(tally.sums)

    def _counter_ids(self, pm: vim.PerformanceManager) -> dict[str, int]:
        """Keys of the counters this module reads, by "group.name.rollup" (looked up once)."""
        if not self._ids:
            wanted = {c for counters, _ in FIELDS.values() for c in counters}
            for info in pm.perfCounter:
                name = f"{info.groupInfo.key}.{info.nameInfo.key}.{info.rollupType}"
                if name in wanted:
                    self._ids[name] = info.key
        return self._ids

    def _query(self, pm: vim.PerformanceManager, vm: vim.VirtualMachine, start: dt.datetime) -> Reading | None:
        """QueryPerf of every instance of the wanted counters at the realtime interval, after a time."""
        ids = self._counter_ids(pm)
        if not ids:
            return None
        metric_ids = [vim.PerformanceManager.MetricId(counterId=key, instance="*") for key in ids.values()]
        spec = vim.PerformanceManager.QuerySpec(
            entity=vm, metricId=metric_ids, intervalId=REALTIME_INTERVAL, maxSample=MAX_SAMPLES, startTime=start
        )
        answer = pm.QueryPerf([spec]) or []
        return _reading(answer[0], {v: k for k, v in ids.items()}) if answer else None


def _reading(metric: Any, names: Mapping[int, str]) -> Reading | None:
    """Plain data from one PerfEntityMetric (None when it carries no samples)."""
    infos = list(metric.sampleInfo or ())
    if not infos:
        return None
    series: dict[str, list[tuple[str, Sequence[int]]]] = {}
    for s in metric.value or ():
        name = names.get(s.id.counterId)
        if name is not None:
            series.setdefault(name, []).append((s.id.instance or "", [int(v) for v in s.value or ()]))
    interval = int(infos[0].interval or REALTIME_INTERVAL)
    return Reading(ends=tuple(i.timestamp for i in infos), interval=interval, series=series)
