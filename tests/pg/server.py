"""A throwaway PostgreSQL server for tests: initdb into a temp dir, a unix socket there, no TCP."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SYSTEM_USER = "postgres"  # postgres refuses to run as root: as root, the server runs as this user


def required_bindir() -> Path:
    """The PostgreSQL binaries and the psycopg driver, or a skip (a failure under CI=true) naming what is missing."""
    from tests.support import need

    bindir = find_bindir()
    need(bindir, "PostgreSQL server binaries (apt: postgresql)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        need(False, "the psycopg driver (pip: psycopg[binary])")
    assert bindir is not None
    return bindir


def find_bindir() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres: PATH first, then Debian's /usr/lib/postgresql/*/bin."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(os.path.realpath(on_path)).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def _run_as() -> list[str]:
    """The command prefix that runs the server as a non-root user (nothing when we are not root)."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
            check=True,
            capture_output=True,
        )
    return ["runuser", "-u", SYSTEM_USER, "--"]


@dataclass
class PgServer:
    """A running server: where its socket is and how to reach a database on it."""

    bindir: Path
    root: Path
    prefix: list[str]

    @property
    def socket_dir(self) -> Path:
        """The directory holding the server's unix socket."""
        return self.root / "run"

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of a database on this server (psycopg 3, over the unix socket)."""
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}"

    def psql_exec(self, sql: str) -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE) as the superuser."""
        import psycopg

        with psycopg.connect(host=str(self.socket_dir), user="postgres", dbname="postgres", autocommit=True) as c:
            c.execute(sql)  # type: ignore[arg-type]

    def create_database(self, name: str) -> str:
        """Create an empty database and return its URL."""
        self.psql_exec(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting whoever still uses it."""
        self.psql_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _ctl(server: PgServer, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run pg_ctl on the server's data directory as the server's user."""
    cmd = [*server.prefix, str(server.bindir / "pg_ctl"), "-D", str(server.root / "data"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def _init(server: PgServer) -> None:
    """initdb (trust auth on the socket only) and start the server; raise with its log on failure."""
    (server.root / "run").mkdir()
    if server.prefix:
        ent = pwd.getpwnam(SYSTEM_USER)
        for p in (server.root, server.root / "run"):
            os.chown(p, ent.pw_uid, ent.pw_gid)
    init = subprocess.run(
        [
            *server.prefix,
            str(server.bindir / "initdb"),
            "-D",
            str(server.root / "data"),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if init.returncode != 0:
        raise RuntimeError(f"initdb failed: {init.stderr.strip()}")
    opts = (
        f"-c listen_addresses='' -c unix_socket_directories='{server.socket_dir}' -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    started = _ctl(server, "start", "-w", "-t", "60", "-l", str(server.root / "server.log"), "-o", opts, timeout=90)
    if started.returncode != 0:
        log = (server.root / "server.log").read_text(errors="replace") if (server.root / "server.log").exists() else ""
        raise RuntimeError(f"postgres did not start: {started.stderr.strip()}\n{log[-2000:]}")


@contextmanager
def running_server(bindir: Path) -> Iterator[PgServer]:
    """Start a server in a fresh temp dir; stop it and delete the directory afterwards, even on failure."""
    root = Path(tempfile.mkdtemp(prefix="virga-pg-"))
    server = PgServer(bindir, root, _run_as())
    try:
        _init(server)
        yield server
    finally:
        if (root / "data" / "postmaster.pid").exists():
            _ctl(server, "stop", "-m", "immediate", "-w", "-t", "30")
        shutil.rmtree(root, ignore_errors=True)
