"""Per-router file locks (flock): one apply/destroy/heal of a router at a time across processes.

The management server and the router supervisor are separate processes that can both converge the
same router; an asyncio lock only serialises one process. The lock is an flock(2) on
`<state dir>/.locks/<network uuid>.lock`, a file beside (not inside) the router's directory, so
destroying the router does not delete a lock someone holds. The kernel releases an flock when its
holder exits, so a crashed holder never leaves a router locked.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

LOCK_DIR = ".locks"


def lock_path(state_dir: Path, network_uuid: str) -> Path:
    """The lock file of one router."""
    return state_dir / LOCK_DIR / f"{network_uuid}.lock"


def _open(path: Path) -> int:
    """Open (creating) a lock file; each open is its own flock owner, even within one process."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)


def _try(fd: int) -> bool:
    """Take the lock without waiting; whether it was free."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextmanager
def held(path: Path) -> Iterator[None]:
    """Hold the lock, blocking the calling thread while another holder has it."""
    fd = _open(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the only descriptor releases the flock


async def _wait(fd: int) -> None:
    """Wait for the lock in a thread of its own (the event loop never blocks).

    On success the caller holds the lock and owns fd. On failure or cancellation fd is closed here,
    or, when the thread is still waiting, by the thread's callback as soon as flock returns: a
    cancelled waiter never leaves the router locked.
    """
    loop = asyncio.get_running_loop()
    got: asyncio.Future[None] = loop.create_future()
    abandoned = False

    def settle(err: OSError | None) -> None:
        """In the loop: hand the outcome to the waiter, or drop the lock when nobody waits any more."""
        if abandoned:
            os.close(fd)
        elif err is not None:
            got.set_exception(err)
        else:
            got.set_result(None)

    def block() -> None:
        """In the thread: wait for the flock, then report to the loop."""
        err = None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:
            err = exc
        try:
            loop.call_soon_threadsafe(settle, err)
        except RuntimeError:  # the loop is closed: nobody will use the lock
            os.close(fd)

    threading.Thread(target=block, name="router-flock", daemon=True).start()
    try:
        await asyncio.shield(got)
    except BaseException:
        if got.done():  # the thread has finished: the lock (if taken) is ours to drop
            os.close(fd)
        else:
            abandoned = True
        raise


@asynccontextmanager
async def held_async(path: Path) -> AsyncIterator[None]:
    """Hold the lock; a wait for another holder happens in a thread, so the event loop never blocks."""
    fd = _open(path)
    try:
        free = _try(fd)
    except OSError:
        os.close(fd)
        raise
    if not free:
        await _wait(fd)  # closes fd itself when it fails or is cancelled
    try:
        yield
    finally:
        os.close(fd)
