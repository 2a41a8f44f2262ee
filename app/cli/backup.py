"""Backups of virga itself: `virga backup FILE` (online) and `virga restore FILE` (on a stopped, empty data dir).

A backup is a tar.gz (mode 0600: it holds the key) with the SQLite database copied through SQLite's online
backup API (consistent while the server writes), the simulator's state the same way, the encryption key file,
and the routers' state directory. Disk images of primary and secondary storage are not in it.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from virga.config import data_dir, default_db_url
from virga.services.secrets import key_path

FORMAT = 1
STATE_DIRS = ("routers",)  # router state not in the database (rendered configs, leases)


class BackupError(RuntimeError):
    """A backup or restore that cannot be done (the message says why)."""


def _sqlite_path() -> Path:
    """The embedded SQLite database file, or BackupError for another database."""
    url = default_db_url()
    if not url.startswith("sqlite:///"):
        raise BackupError(
            "virga backup copies the embedded SQLite database; for PostgreSQL back the database up with pg_dump "
            "and keep the key file " + str(key_path())
        )
    return Path(url.removeprefix("sqlite:///"))


def _online_copy(src: Path, dst: Path) -> None:
    """Copy a live SQLite database with its online backup API (a consistent snapshot)."""
    # Not mode=ro: a read-only connection may not use the WAL index, and would miss what is only in the WAL.
    source, target = sqlite3.connect(src, timeout=30), sqlite3.connect(dst)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    """Add a file made in memory, owner-only."""
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, int(time.time())
    tar.addfile(info, io.BytesIO(data))


def backup(target: Path) -> dict[str, Any]:
    """Write a backup of the data directory's database, simulator state, key file and router state."""
    db, where = _sqlite_path(), data_dir()
    if not db.exists():
        raise BackupError(f"no database at {db}: nothing to back up")
    key = key_path()
    files: list[str] = []
    made: dict[str, Any] = {"format": FORMAT, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "files": files}
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.chmod(target, 0o600)
    with (
        tempfile.TemporaryDirectory() as tmp,
        os.fdopen(fd, "wb") as out,
        tarfile.open(fileobj=out, mode="w:gz") as tar,
    ):
        for name, src in (("virga.db", db), ("simulator.db", where / "simulator.db")):
            if src.exists():
                copy = Path(tmp) / name
                _online_copy(src, copy)
                tar.add(copy, arcname=name)
                files.append(name)
        if key.exists():
            _add_bytes(tar, "virga.key", key.read_bytes())
            files.append("virga.key")
        for sub in STATE_DIRS:
            if (where / sub).is_dir():
                tar.add(where / sub, arcname=sub)
                files.append(sub + "/")
        _add_bytes(tar, "manifest.json", json.dumps(made).encode())
    return made


def restore(source: Path) -> dict[str, Any]:
    """Unpack a backup into an empty data directory (and the key file where this virga looks for it)."""
    db, where, key = _sqlite_path(), data_dir(), key_path()
    if db.exists():
        raise BackupError(f"{db} exists: restore into a fresh data directory (VIRGA_DATA_DIR=...) or move it away")
    with tarfile.open(source, "r:gz") as tar:
        names = set(tar.getnames())
        if "manifest.json" not in names or "virga.db" not in names:
            raise BackupError(f"{source} is not a virga backup")
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        if manifest.get("format") != FORMAT:
            raise BackupError(f"{source} has backup format {manifest.get('format')}, this virga reads {FORMAT}")
        member_key = tar.extractfile("virga.key").read() if "virga.key" in names else None  # type: ignore[union-attr]
        if member_key is not None and key.exists() and key.read_bytes() != member_key:
            raise BackupError(f"a different key file is at {key}: move it away (or set VIRGA_KEY_FILE) first")
        where.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(where, 0o700)
        safe = [m for m in tar.getmembers() if m.name != "manifest.json" and m.name != "virga.key"]
        for m in safe:
            if m.name.startswith("/") or ".." in Path(m.name).parts or not (m.isfile() or m.isdir()):
                raise BackupError(f"{source} holds an unsafe entry {m.name!r}")
        tar.extractall(where, members=safe, filter="data")
        if (where / "virga.db").resolve() != db.resolve():  # VIRGA_DB_URL names another SQLite file
            db.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            (where / "virga.db").rename(db)
        for f in (db, where / "simulator.db"):
            if f.exists():
                os.chmod(f, 0o600)
        if member_key is not None and not key.exists():
            key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            kfd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(kfd, "wb") as out:
                out.write(member_key)
    return manifest
