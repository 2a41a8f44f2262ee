"""Hash a file while another process (curl) appends to it: reads come from the page cache, on another core.

The follower reads the file from byte 0 into one reused buffer and feeds the hasher; when it catches up with
the writer it waits a few milliseconds and reads again. Once told the writer has finished it reads to the
end and stops. hashlib and readinto release the GIL, so the event loop stays free.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
from pathlib import Path

from .checksum import Checksum

BLOCK = 4 << 20
IDLE_WAIT = 0.005


class Follower:
    """A hashing thread following a growing file; digest() once the writer is done."""

    def __init__(self, path: Path, expected: Checksum) -> None:
        """Start hashing `path` (created by the writer, maybe later) in a thread of its own."""
        self.path, self.hasher = path, expected.new()
        self.finished, self.stopped = threading.Event(), False
        self.loop = asyncio.get_running_loop()
        self.future: asyncio.Future[None] = self.loop.create_future()
        # its own thread, not the default executor: a long transfer must not hold one of its few workers
        threading.Thread(target=self._thread, name="virga-hash", daemon=True).start()

    def _thread(self) -> None:
        """The thread's body: follow the file, then settle the future on the event loop."""
        failure: BaseException | None = None
        try:
            self._follow()
        except BaseException as exc:  # handed to the awaiting task
            failure = exc
        with contextlib.suppress(RuntimeError):  # the loop is already closed: nobody waits any more
            self.loop.call_soon_threadsafe(self._settle, failure)

    def _settle(self, exc: BaseException | None) -> None:
        """On the loop: complete the future (unless the loop side gave up on it)."""
        if self.future.done():
            return
        if exc is None:
            self.future.set_result(None)
        else:
            self.future.set_exception(exc)

    def _follow(self) -> None:
        """In a thread: hash what is in the file, wait for more, until the writer has finished."""
        buf = bytearray(BLOCK)
        view = memoryview(buf)
        f = self._open()
        if f is None:
            return
        with f:
            while not self.stopped:
                writer_done = self.finished.is_set()  # checked before the read: a short read then means EOF
                n = f.readinto(buf)
                if n:
                    self.hasher.update(view[:n])
                elif writer_done:
                    return
                else:
                    self.finished.wait(IDLE_WAIT)

    def _open(self) -> io.FileIO | None:
        """The file once the writer has created it (None when stopped, or finished without creating it)."""
        while not self.stopped:
            writer_done = self.finished.is_set()
            try:
                return io.FileIO(self.path, "rb")
            except FileNotFoundError:
                if writer_done:
                    return None
            self.finished.wait(IDLE_WAIT)
        return None

    async def digest(self) -> str:
        """The hex digest of the whole file, after the writer has finished."""
        self.finished.set()
        await self.future
        return str(self.hasher.hexdigest())

    async def stop(self) -> None:
        """Abandon hashing (failure, cancellation or a restart from byte 0)."""
        self.stopped = True
        self.finished.set()
        await asyncio.shield(self.future)
