"""The per-router file lock: processes applying the same router take turns; a crashed holder frees it."""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from virga.appliance.router import filelock
from virga.appliance.router.apply import RouterManager

from tests.router.lockholder import Instrumented
from tests.router.sample import sample

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 60.0  # generous: the machine is shared and loaded


def _events(log: Path) -> list[tuple[str, str, int]]:
    """(process, event, monotonic ns) lines of the log, in file order."""
    if not log.exists():
        return []
    return [(p, e, int(t)) for p, e, t in (line.split() for line in log.read_text().splitlines())]


def _first(log: Path, name: str, event: str) -> int | None:
    """When a process first logged an event (None: not yet)."""
    return next((t for p, e, t in _events(log) if (p, e) == (name, event)), None)


def _until(cond, what: str) -> None:  # noqa: ANN001
    """Poll until cond() is true; fail naming what never happened."""
    end = time.monotonic() + WAIT_S
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _ticked_after_calling(log: Path, name: str) -> bool:
    """Whether the process's event loop ticked after it called apply() (it is waiting without blocking)."""
    called = _first(log, name, "calling")
    return called is not None and any(p == name and e == "tick" and t > called for p, e, t in _events(log))


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Child processes of a test, killed at teardown if still running."""
    made: list[subprocess.Popen[bytes]] = []
    yield made
    for p in made:
        if p.poll() is None:
            p.kill()
        p.wait()


def _holder(
    procs: list[subprocess.Popen[bytes]], state: Path, log: Path, name: str, release: Path
) -> subprocess.Popen[bytes]:
    """Start a lockholder process (python -m tests.router.lockholder)."""
    p = subprocess.Popen(
        [sys.executable, "-m", "tests.router.lockholder", str(state), str(log), name, str(release)],
        cwd=ROOT,
        stderr=subprocess.PIPE,
    )
    procs.append(p)
    return p


def test_two_processes_applying_one_router_take_turns(tmp_path: Path, procs: list) -> None:
    state, log = tmp_path / "routers", tmp_path / "events.log"
    release_a, release_b = tmp_path / "release-a", tmp_path / "release-b"
    a = _holder(procs, state, log, "A", release_a)
    _until(lambda: _first(log, "A", "start") is not None, "A to hold the router")
    b = _holder(procs, state, log, "B", release_b)
    release_b.touch()  # B would finish at once if it ever got in
    _until(
        lambda: _first(log, "B", "start") is not None or _ticked_after_calling(log, "B"),
        "B to wait for the lock, its loop ticking",
    )
    assert _first(log, "B", "start") is None, "B got into the router while A held it"
    release_a.touch()
    assert a.wait(WAIT_S) == 0, a.stderr.read() if a.stderr else ""
    assert b.wait(WAIT_S) == 0, b.stderr.read() if b.stderr else ""
    a_end, b_call, b_start = _first(log, "A", "end"), _first(log, "B", "calling"), _first(log, "B", "start")
    assert a_end is not None and b_call is not None and b_start is not None
    assert b_call < a_end < b_start  # B asked while A held it, and got in only after A left
    assert [(p, e) for p, e, _ in _events(log) if e in ("start", "end")] == [
        ("A", "start"),
        ("A", "end"),
        ("B", "start"),
        ("B", "end"),
    ]


def _locked(path: Path) -> bool:
    """Whether some process holds the flock on path (probed without waiting)."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


async def test_a_crashed_holder_does_not_leave_the_router_locked(tmp_path: Path, procs: list) -> None:
    state, log = tmp_path / "routers", tmp_path / "events.log"
    c = _holder(procs, state, log, "C", tmp_path / "never")
    await asyncio.to_thread(_until, lambda: _first(log, "C", "start") is not None, "C to hold the router")
    lock = RouterManager(state).lock_file(sample().network_uuid)
    assert _locked(lock)
    os.kill(c.pid, signal.SIGKILL)  # dies inside the lock, without any cleanup of its own
    assert c.wait(WAIT_S) == -signal.SIGKILL
    assert not _locked(lock)  # the kernel dropped the flock with the process
    (tmp_path / "go").touch()
    mgr = Instrumented(state, log, "D", tmp_path / "go")
    await asyncio.wait_for(mgr.apply(sample()), WAIT_S)
    assert _first(log, "D", "end") is not None


async def test_a_cancelled_wait_does_not_keep_the_lock(tmp_path: Path) -> None:
    """A waiter cancelled while another holder has the lock must not take it for good once it is freed."""
    path = tmp_path / "r.lock"
    with filelock.held(path):
        waiter = asyncio.create_task(_enter(path))
        await asyncio.sleep(0.1)
        assert not waiter.done()
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
    async with asyncio.timeout(WAIT_S):
        while _locked(path):  # the cancelled waiter's thread got the lock, then dropped it
            await asyncio.sleep(0.02)
    async with filelock.held_async(path):
        assert _locked(path)


async def _enter(path: Path) -> None:
    """Take and leave a lock."""
    async with filelock.held_async(path):
        pass
