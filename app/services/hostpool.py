"""Driver connections per host, made lazily through the driver registry and cached."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from virga.drivers.base import Driver, HostConnection
from virga.drivers.registry import make_driver
from virga.models import Host

if TYPE_CHECKING:
    from virga.core import VirgaApp


def connection_of(host: Host) -> HostConnection:
    """How to reach a host, from its database row."""
    options = {k: str(v) for k, v in (host.options or {}).items()}
    return HostConnection(
        url=host.url, username=host.username, password=host.password, private_key=host.private_key, options=options
    )


class HostPool:
    """One connected driver per host id."""

    def __init__(self, app: VirgaApp) -> None:
        """Start with no connections."""
        self.app = app
        self._drivers: dict[int, Driver] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    async def driver(self, host: Host) -> Driver:
        """The connected driver of a host (connecting on first use)."""
        assert host.id is not None
        drv = self._drivers.get(host.id)
        if drv is not None:
            return drv
        lock = self._locks.setdefault(host.id, asyncio.Lock())
        async with lock:
            drv = self._drivers.get(host.id)
            if drv is None:
                drv = make_driver(host.hypervisor, connection_of(host))
                await drv.connect()
                self._drivers[host.id] = drv
        return drv

    def cached(self, host_id: int) -> Driver | None:
        """The driver of a host if already connected."""
        return self._drivers.get(host_id)

    async def drop(self, host_id: int) -> None:
        """Close and forget a host's connection."""
        drv = self._drivers.pop(host_id, None)
        if drv is not None:
            try:
                await drv.close()
            except Exception:  # closing a broken connection may fail; it is gone either way
                pass

    async def close_all(self) -> None:
        """Close every connection."""
        for hid in list(self._drivers):
            await self.drop(hid)
