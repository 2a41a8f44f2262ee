"""Backups of virga itself: `virga backup FILE` (online) and `virga restore FILE` (on a stopped, empty data dir).

A backup is a tar.gz (mode 0600: it holds the key) with the database (SQLite: copied through its online backup
API; PostgreSQL: pg_dump's custom format; both consistent while servers write), the simulator's state, the
encryption key file, and the routers' state directory. Disk images of primary and secondary storage are not in it.
"""

from __future__ import annotations

import glob
import io
import json
import os
import shutil
import sqlite3
import subprocess
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


def _sqlite_path() -> Path | None:
    """The SQLite database file (None when the database is PostgreSQL), or BackupError for another one."""
    url = default_db_url()
    if url.startswith("postgresql"):
        return None
    if not url.startswith("sqlite:///"):
        raise BackupError(f"virga backup knows SQLite and PostgreSQL databases, not {url.split(':', 1)[0]}")
    return Path(url.removeprefix("sqlite:///"))


def _pg_tool(name: str) -> str:
    """pg_dump or pg_restore: on PATH, else Debian's newest /usr/lib/postgresql/*/bin."""
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: -int(Path(p).parts[-3]))), None
    )
    if not found:
        raise BackupError(f"{name} is needed to back up or restore a PostgreSQL database (apt: postgresql-client)")
    return found


def _libpq_url() -> str:
    """The PostgreSQL URL in libpq's form (no SQLAlchemy driver name)."""
    from sqlalchemy.engine import make_url

    return make_url(default_db_url()).set(drivername="postgresql").render_as_string(hide_password=False)


def _pg(tool: str, *args: str) -> None:
    """Run pg_dump/pg_restore on this virga's database, or BackupError with its message."""
    done = subprocess.run([_pg_tool(tool), "--no-owner", f"--dbname={_libpq_url()}", *args], capture_output=True)
    if done.returncode != 0:
        raise BackupError(f"{tool} failed: {done.stderr.decode(errors='replace').strip()[-500:]}")


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
    if db is not None and not db.exists():
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
        if db is None:  # PostgreSQL: pg_dump's consistent snapshot, in its custom format
            _pg("pg_dump", "--format=custom", f"--file={Path(tmp) / 'virga.pgdump'}")
            tar.add(Path(tmp) / "virga.pgdump", arcname="virga.pgdump")
            files.append("virga.pgdump")
        for name, src in (("virga.db", db), ("simulator.db", where / "simulator.db")):
            if src is not None and src.exists():
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


def _pg_has_tables() -> bool:
    """Whether the PostgreSQL database already holds tables."""
    from sqlalchemy import create_engine, inspect

    engine = create_engine(default_db_url())
    try:
        with engine.connect() as conn:
            return bool(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def restore(source: Path) -> dict[str, Any]:
    """Unpack a backup into an empty data directory (and the key file where this virga looks for it)."""
    db, where, key = _sqlite_path(), data_dir(), key_path()
    if db is not None and db.exists():
        raise BackupError(f"{db} exists: restore into a fresh data directory (VIRGA_DATA_DIR=...) or move it away")
    if db is None and _pg_has_tables():
        raise BackupError("the PostgreSQL database is not empty: restore into a new, empty database")
    if (where / "simulator.db").exists():
        raise BackupError(f"{where} holds a simulator state already: restore into a fresh data directory")
    with tarfile.open(source, "r:gz") as tar:
        names = set(tar.getnames())
        if "manifest.json" not in names or not names & {"virga.db", "virga.pgdump"}:
            raise BackupError(f"{source} is not a virga backup")
        if ("virga.db" in names) != (db is not None):
            kind = "SQLite" if "virga.db" in names else "PostgreSQL"
            raise BackupError(f"{source} holds a {kind} database; point this virga at one (VIRGA_DB_URL) first")
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
        if db is None:
            _pg("pg_restore", "--exit-on-error", str(where / "virga.pgdump"))
            (where / "virga.pgdump").unlink()
        elif (where / "virga.db").resolve() != db.resolve():  # VIRGA_DB_URL names another SQLite file
            db.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            (where / "virga.db").rename(db)
        for f in (db, where / "simulator.db"):
            if f is not None and f.exists():
                os.chmod(f, 0o600)
        if member_key is not None and not key.exists():
            key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            kfd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(kfd, "wb") as out:
                out.write(member_key)
    return manifest
