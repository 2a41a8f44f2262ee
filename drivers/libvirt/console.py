"""Interactive serial console: a libvirt stream (openConsole) as an async byte stream."""

from __future__ import annotations

import asyncio
from pathlib import Path

import libvirt
from virga.drivers.base import ConsoleStream, DriverError

_EOF = b""


HISTORY_BYTES = 16384


class SerialConsole(ConsoleStream):
    """A guest's serial console: read() and write() bytes; wait_for() a pattern."""

    def __init__(self, conn: libvirt.virConnect, dom: libvirt.virDomain, log_path: str = "") -> None:
        """Remember the connection, the domain and its console log (when local); open() attaches."""
        self._conn = conn
        self._dom = dom
        self._log = Path(log_path) if log_path else None
        self._stream: libvirt.virStream | None = None
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.buffer = bytearray()

    async def open(self, force: bool = True) -> SerialConsole:
        """Attach to the console (taking it over from another client when force)."""
        self._loop = asyncio.get_running_loop()
        stream = self._conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
        flags = libvirt.VIR_DOMAIN_CONSOLE_FORCE if force else 0
        await asyncio.to_thread(self._dom.openConsole, None, stream, flags)
        events = libvirt.VIR_STREAM_EVENT_READABLE | libvirt.VIR_STREAM_EVENT_ERROR | libvirt.VIR_STREAM_EVENT_HANGUP
        stream.eventAddCallback(events, self._on_event, None)
        self._stream = stream
        return self

    async def history(self) -> bytes:
        """The tail of the console log file when this host's logs are local; otherwise nothing."""
        log = self._log
        if log is None:
            return b""

        def tail() -> bytes:
            """Read the last HISTORY_BYTES of the log."""
            try:
                with log.open("rb") as f:
                    f.seek(max(0, log.stat().st_size - HISTORY_BYTES))
                    return f.read()
            except OSError:
                return b""

        return await asyncio.to_thread(tail)

    def _on_event(self, stream: libvirt.virStream, events: int, _opaque: object) -> None:
        """Drain readable data into the queue (runs on libvirt's event thread)."""
        assert self._loop is not None
        while events & libvirt.VIR_STREAM_EVENT_READABLE:
            try:
                data = stream.recv(65536)
            except libvirt.libvirtError:
                data = _EOF
            if data == -2:
                return
            self._loop.call_soon_threadsafe(self._queue.put_nowait, bytes(data))
            if not data:
                self._drop(stream)
                return
        if events & (libvirt.VIR_STREAM_EVENT_ERROR | libvirt.VIR_STREAM_EVENT_HANGUP):
            self._loop.call_soon_threadsafe(self._queue.put_nowait, _EOF)
            self._drop(stream)

    @staticmethod
    def _drop(stream: libvirt.virStream) -> None:
        """Stop watching a finished stream."""
        try:
            stream.eventRemoveCallback()
        except libvirt.libvirtError:
            pass

    async def read(self) -> bytes:
        """The next chunk of console output; b'' at end of stream."""
        data = await self._queue.get()
        self.buffer += data
        if len(self.buffer) > 1 << 20:
            del self.buffer[: len(self.buffer) - (1 << 19)]
        return data

    async def write(self, data: bytes) -> None:
        """Send bytes to the guest's console."""
        if self._stream is None:
            raise DriverError("console is not open")
        view = memoryview(data)
        while view:
            sent = self._stream.send(bytes(view))
            if sent == -2:
                await asyncio.sleep(0.01)
                continue
            view = view[sent:]

    async def wait_for(self, pattern: bytes, timeout: float) -> bytes:
        """Read until pattern shows up in the output; return everything read. TimeoutError otherwise."""

        async def scan() -> bytes:
            """Read chunks until the pattern is in the buffer."""
            while pattern not in self.buffer:
                if not await self.read():
                    raise DriverError("console closed before the expected output")
            return bytes(self.buffer)

        return await asyncio.wait_for(scan(), timeout)

    async def close(self) -> None:
        """Detach from the console."""
        stream, self._stream = self._stream, None
        if stream is not None:
            self._drop(stream)
            try:
                await asyncio.to_thread(stream.finish)
            except libvirt.libvirtError:
                try:
                    stream.abort()
                except libvirt.libvirtError:
                    pass

    async def __aenter__(self) -> SerialConsole:
        """Open on entering a context."""
        return self if self._stream is not None else await self.open()

    async def __aexit__(self, *exc: object) -> None:
        """Close on leaving a context."""
        await self.close()
