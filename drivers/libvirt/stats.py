"""Usage counters of a domain from libvirt's bulk stats API."""

from __future__ import annotations

import time
from collections.abc import Mapping

import libvirt
from virga.drivers.base import InstanceStats

STATS = (
    libvirt.VIR_DOMAIN_STATS_STATE
    | libvirt.VIR_DOMAIN_STATS_CPU_TOTAL
    | libvirt.VIR_DOMAIN_STATS_BALLOON
    | libvirt.VIR_DOMAIN_STATS_BLOCK
    | libvirt.VIR_DOMAIN_STATS_INTERFACE
)


def _sum(record: Mapping[str, object], prefix: str, suffix: str) -> int:
    """Sum the counters named prefix.N.suffix over every device."""
    count = int(record.get(f"{prefix}.count", 0))  # type: ignore[call-overload]
    return sum(int(record.get(f"{prefix}.{i}.{suffix}", 0)) for i in range(count))  # type: ignore[call-overload]


def from_record(record: Mapping[str, object], cpu_percent: float = 0.0) -> InstanceStats:
    """InstanceStats from one libvirt stats record (pure)."""
    mem = int(record.get("balloon.current", record.get("balloon.maximum", 0)))  # type: ignore[call-overload]
    unused = int(record.get("balloon.unused", 0))  # type: ignore[call-overload]
    used = int(record.get("balloon.rss", mem - unused if unused else 0))  # type: ignore[call-overload]
    return InstanceStats(
        cpu_time_ns=int(record.get("cpu.time", 0)),  # type: ignore[call-overload]
        cpu_percent=cpu_percent,
        memory_kb=mem,
        memory_used_kb=used,
        disk_read_bytes=_sum(record, "block", "rd.bytes"),
        disk_write_bytes=_sum(record, "block", "wr.bytes"),
        disk_read_ops=_sum(record, "block", "rd.reqs"),
        disk_write_ops=_sum(record, "block", "wr.reqs"),
        net_rx_bytes=_sum(record, "net", "rx.bytes"),
        net_tx_bytes=_sum(record, "net", "tx.bytes"),
    )


def collect(conn: libvirt.virConnect, dom: libvirt.virDomain, last: dict[str, tuple[float, int]]) -> InstanceStats:
    """Current counters of a domain; CPU percent from the previous sample kept in `last`."""
    try:
        record = dict(conn.domainListGetStats([dom], STATS, 0)[0][1])
    except libvirt.libvirtError as err:
        if err.get_error_code() != libvirt.VIR_ERR_NO_SUPPORT:
            raise
        _state, max_kb, mem_kb, _ncpu, cpu_ns = dom.info()
        record = {"cpu.time": cpu_ns, "balloon.current": mem_kb or max_kb}
    if not record.get("balloon.current"):
        _state, max_kb, mem_kb, _ncpu, cpu_ns = dom.info()
        record.setdefault("cpu.time", cpu_ns)
        record["balloon.current"] = mem_kb or max_kb
    now, cpu = time.monotonic(), int(record.get("cpu.time", 0))
    uuid = dom.UUIDString()
    percent = 0.0
    if uuid in last:
        t0, c0 = last[uuid]
        ncpu = max(1, int(dom.info()[3]))
        percent = max(0.0, (cpu - c0) / ((now - t0) * 1e9 * ncpu) * 100) if now > t0 else 0.0
    last[uuid] = (now, cpu)
    return from_record(record, round(percent, 2))
