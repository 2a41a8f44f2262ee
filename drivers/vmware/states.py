"""vSphere power states mapped to virga's."""

from __future__ import annotations

from collections.abc import Mapping

from virga.drivers.base import PowerState

STATE_MAP: Mapping[str, PowerState] = {
    "poweredOn": PowerState.RUNNING,
    "poweredOff": PowerState.STOPPED,
    "suspended": PowerState.SUSPENDED,
}


def power_state(value: object) -> PowerState:
    """virga's state for a vSphere runtime.powerState value."""
    return STATE_MAP.get(str(value), PowerState.UNKNOWN)
