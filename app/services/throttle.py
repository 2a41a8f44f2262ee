"""API throttling as CloudStack's api.throttling.*: at most api.throttling.max calls per account per interval."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlmodel import Session
from virga.errors import CloudError
from virga.services.bootstrap import setting

SETTINGS_TTL = 2.0  # the settings are re-read this often (a change applies within it)


class Throttled(CloudError):
    """429: the account made more calls than api.throttling.max within api.throttling.interval."""

    code = 429


@dataclass
class Limits:
    """The throttling settings, as last read."""

    enabled: bool = False
    interval: float = 1.0
    max: int = 25
    read_at: float = -1e9


@dataclass
class Throttle:
    """Fixed windows per account, in this management server's memory (as CloudStack's rate limiter)."""

    limits: Limits = field(default_factory=Limits)
    windows: dict[int, tuple[float, int]] = field(default_factory=dict)

    def refresh(self, s: Session, now: float) -> Limits:
        """The settings, re-read at most every SETTINGS_TTL seconds."""
        if now - self.limits.read_at >= SETTINGS_TTL:
            enabled = setting(s, "api.throttling.enabled", "false").strip().lower() == "true"
            try:
                interval = max(float(setting(s, "api.throttling.interval", "1")), 0.001)
                most = int(setting(s, "api.throttling.max", "25"))
            except ValueError:
                interval, most = 1.0, 25
            self.limits = Limits(enabled, interval, most, now)
        return self.limits

    def check(self, s: Session, account_id: int) -> None:
        """Count one call of an account; raise 429 once it is over the limit in the current window."""
        now = time.monotonic()
        lim = self.refresh(s, now)
        if not lim.enabled or lim.max <= 0:
            return
        start, count = self.windows.get(account_id, (now, 0))
        if now - start >= lim.interval:
            start, count = now, 0
        count += 1
        self.windows[account_id] = (start, count)
        if len(self.windows) > 100_000:
            self.windows = {k: v for k, v in self.windows.items() if now - v[0] < lim.interval}
        if count > lim.max:
            wait_ms = int((start + lim.interval - now) * 1000) + 1
            raise Throttled(f"The given user has reached his/her account api limit, please retry after {wait_ms} ms.")

    def forget(self) -> None:
        """Drop the counts and re-read the settings on the next call."""
        self.windows.clear()
        self.limits = Limits()


THROTTLE = Throttle()


def current_limits(s: Session) -> Limits:
    """The throttling settings in force (listCapabilities' apilimitinterval and apilimitmax)."""
    return THROTTLE.refresh(s, time.monotonic())
