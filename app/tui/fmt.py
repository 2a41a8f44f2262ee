"""Pure formatting of API fields for the screens: states in colour, ages, sizes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

STATE_STYLES = {
    "running": "bold green",
    "up": "bold green",
    "enabled": "green",
    "ready": "green",
    "allocated": "green",
    "implemented": "green",
    "backedup": "green",
    "active": "green",
    "succeeded": "green",
    "download complete": "green",
    "true": "green",
    "setup": "cyan",
    "stopped": "red",
    "down": "bold red",
    "disabled": "red",
    "error": "bold red",
    "failed": "bold red",
    "alert": "bold red",
    "disconnected": "bold red",
    "destroyed": "dim",
    "expunging": "dim",
    "expunged": "dim",
    "removed": "dim",
    "free": "dim",
    "starting": "yellow",
    "stopping": "yellow",
    "migrating": "yellow",
    "creating": "yellow",
    "allocating": "yellow",
    "maintenance": "magenta",
    "prepareformaintenance": "magenta",
    "errorinmaintenance": "bold magenta",
    "pending": "yellow",
    "running job": "yellow",
}

Clock = Callable[[], datetime | None]


def state(value: Any) -> tuple[str, str]:
    """A state's text with its colour."""
    text = str(value if value is not None else "")
    return text, STATE_STYLES.get(text.lower(), "")


def parse_time(text: str) -> datetime | None:
    """Parse an API date like 2026-04-13T09:42:21+0000."""
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z")
    except (TypeError, ValueError):
        return None


def age(created: Any, now: datetime | None) -> str:
    """A k9s-style age (45s, 12m, 3h, 5d); '-' when the clock is frozen or the date unknown."""
    when = parse_time(str(created or ""))
    if when is None or now is None:
        return "-"
    secs = max(0, int((now - when).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{secs // size}{unit}"
    return f"{secs}s"


def wall_clock() -> datetime:
    """The real time, for ages."""
    return datetime.now(UTC)


def size(value: Any) -> str:
    """Bytes as a short human size."""
    try:
        n = float(value)
    except (TypeError, ValueError):
        return ""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def first_ip(item: dict[str, Any]) -> str:
    """The default NIC's IP address of a VM (or the first one)."""
    nics = item.get("nic") or []
    for nic in nics:
        if nic.get("isdefault"):
            return str(nic.get("ipaddress", ""))
    return str(nics[0].get("ipaddress", "")) if nics else ""


def bar(used: float, total: float, width: int) -> tuple[str, str]:
    """A capacity bar with its colour (green, yellow past 70 %, red past 90 %)."""
    pct = 0.0 if total <= 0 else min(1.0, used / total)
    full = round(pct * width)
    style = "red" if pct > 0.9 else "yellow" if pct > 0.7 else "green"
    return "█" * full + "░" * (width - full), style
