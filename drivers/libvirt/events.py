"""libvirt's default event loop on a daemon thread, and lifecycle events as an async stream."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import libvirt
from virga.drivers.base import InstanceEvent
from virga.drivers.libvirt.states import event_state

_LOCK = threading.Lock()
_STARTED = False


def _run() -> None:
    """Run libvirt's default event loop forever."""
    while True:
        libvirt.virEventRunDefaultImpl()


def _quiet(_opaque: object, _error: object) -> None:
    """Keep libvirt from printing errors on stderr; they are raised as exceptions."""


def ensure_event_loop() -> None:
    """Register and start libvirt's event loop once per process (before opening connections)."""
    global _STARTED
    with _LOCK:
        if _STARTED:
            return
        libvirt.registerErrorHandler(_quiet, None)
        libvirt.virEventRegisterDefaultImpl()
        threading.Thread(target=_run, name="libvirt-events", daemon=True).start()
        _STARTED = True


async def lifecycle_events(conn: libvirt.virConnect) -> AsyncIterator[InstanceEvent]:
    """Yield InstanceEvents for every domain lifecycle event on a connection."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[InstanceEvent] = asyncio.Queue()

    def callback(_conn: libvirt.virConnect, dom: libvirt.virDomain, event: int, detail: int, _opaque: object) -> None:
        """Forward one libvirt event to the asyncio queue."""
        state, reason = event_state(event)
        loop.call_soon_threadsafe(queue.put_nowait, InstanceEvent(uuid=dom.UUIDString(), state=state, reason=reason))

    cb_id = await asyncio.to_thread(
        conn.domainEventRegisterAny, None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, callback, None
    )
    try:
        while True:
            yield await queue.get()
    finally:
        try:
            conn.domainEventDeregisterAny(cb_id)
        except libvirt.libvirtError:
            pass
