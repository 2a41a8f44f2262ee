"""One management server per embedded data directory: a lock file held while it runs."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from virga.config import data_dir

LOCK_NAME = "virga.lock"


class DataDirBusy(RuntimeError):
    """Another virga process runs a management server on this data directory."""


def uses_data_dir() -> bool:
    """Whether this process's database is the embedded SQLite file of the data directory (no VIRGA_DB_URL)."""
    return not os.environ.get("VIRGA_DB_URL")


def _holder(path: Path) -> str:
    """What the lock file says about the process holding it."""
    info = holder_info(path.parent)
    return f"pid {info.get('pid', '?')}: {info.get('what', 'unknown')}" if info else "unknown"


def holder_info(where: Path | None = None) -> dict[str, Any]:
    """The lock file's record of the running server: pid, what, and where to reach it (socket or url)."""
    try:
        data = json.loads(((where or data_dir()) / LOCK_NAME).read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def advertise(lock: Path, **reach: str) -> None:
    """Add where the running server answers (socket=..., or url=... and cafile=...) to its lock file."""
    info = holder_info(lock.parent)
    info.update(reach)
    lock.write_text(json.dumps(info) + "\n")


def running_server(where: Path | None = None) -> dict[str, Any] | None:
    """The record of a server that holds the lock now and can be reached (its socket exists, or a url), else None."""
    where = where or data_dir()
    path = where / LOCK_NAME
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:  # held: someone runs
        info = holder_info(where)
        if info.get("url") or (info.get("socket") and Path(info["socket"]).exists()):
            return info
        return None
    finally:
        os.close(fd)
    return None


def busy_text(where: Path, holder: str) -> str:
    """The message a second management server stops with: what runs and what to do instead."""
    return (
        f"virga: a management server already runs on the data directory {where} ({holder}).\n"
        "Two on one SQLite database would both run jobs and sync hosts. Either stop it first, or talk to it:\n"
        "  - `virga api ...` and the TUI reach it by themselves (its local socket, or the URL of `virga serve`);\n"
        "  - else run commands with --url http://HOST:PORT (or a profile: virga profile add ...)\n"
        "  - or give this command another data directory: VIRGA_DATA_DIR=/some/other/dir virga ..."
    )


@contextmanager
def hold(what: str, where: Path | None = None) -> Iterator[Path]:
    """Hold the data directory's lock while the block runs (what: e.g. "virga serve on :8080"), else DataDirBusy."""
    where = where or data_dir()
    where.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = where / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DataDirBusy(busy_text(where, _holder(path))) from None
        os.ftruncate(fd, 0)
        os.write(fd, (json.dumps({"pid": os.getpid(), "what": what}) + "\n").encode())
        yield path
    finally:
        os.close(fd)  # closing drops the lock (also when the process dies)
