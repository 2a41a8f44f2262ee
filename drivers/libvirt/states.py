"""libvirt domain states and lifecycle events mapped onto virga's power states."""

from __future__ import annotations

from collections.abc import Mapping

import libvirt
from virga.drivers.base import PowerState

STATE_MAP: Mapping[int, PowerState] = {
    libvirt.VIR_DOMAIN_NOSTATE: PowerState.UNKNOWN,
    libvirt.VIR_DOMAIN_RUNNING: PowerState.RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: PowerState.RUNNING,
    libvirt.VIR_DOMAIN_PAUSED: PowerState.SUSPENDED,
    libvirt.VIR_DOMAIN_SHUTDOWN: PowerState.RUNNING,
    libvirt.VIR_DOMAIN_SHUTOFF: PowerState.STOPPED,
    libvirt.VIR_DOMAIN_CRASHED: PowerState.STOPPED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: PowerState.SUSPENDED,
}

EVENT_MAP: Mapping[int, tuple[PowerState, str]] = {
    libvirt.VIR_DOMAIN_EVENT_DEFINED: (PowerState.STOPPED, "defined"),
    libvirt.VIR_DOMAIN_EVENT_UNDEFINED: (PowerState.UNKNOWN, "undefined"),
    libvirt.VIR_DOMAIN_EVENT_STARTED: (PowerState.RUNNING, "started"),
    libvirt.VIR_DOMAIN_EVENT_SUSPENDED: (PowerState.SUSPENDED, "suspended"),
    libvirt.VIR_DOMAIN_EVENT_RESUMED: (PowerState.RUNNING, "resumed"),
    libvirt.VIR_DOMAIN_EVENT_STOPPED: (PowerState.STOPPED, "stopped"),
    libvirt.VIR_DOMAIN_EVENT_SHUTDOWN: (PowerState.RUNNING, "shutting down"),
    libvirt.VIR_DOMAIN_EVENT_PMSUSPENDED: (PowerState.SUSPENDED, "pm suspended"),
    libvirt.VIR_DOMAIN_EVENT_CRASHED: (PowerState.STOPPED, "crashed"),
}


def power_state(state: int) -> PowerState:
    """virga's power state for a libvirt domain state."""
    return STATE_MAP.get(state, PowerState.UNKNOWN)


def event_state(event: int) -> tuple[PowerState, str]:
    """virga's power state and a reason for a libvirt lifecycle event."""
    return EVENT_MAP.get(event, (PowerState.UNKNOWN, f"event {event}"))
