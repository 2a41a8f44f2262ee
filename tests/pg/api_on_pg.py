"""A pytest plugin running other test packages on PostgreSQL: `python -m pytest -p tests.pg.api_on_pg tests/api`.

Every VirgaApp a test creates on a SQLite file gets a fresh database on one throwaway PostgreSQL
server instead (tests that start `virga serve` as a child process keep their SQLite file).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from virga.config import Settings
from virga.core import VirgaApp

from tests.pg.server import PgServer, required_bindir, running_server


@pytest.fixture(scope="session", autouse=True)
def _apps_on_postgresql() -> Iterator[None]:
    """Start the server and redirect every in-process VirgaApp's SQLite URL to a new database on it."""
    bindir = required_bindir()
    original = VirgaApp.__init__
    with running_server(bindir) as server:

        def redirected(self: VirgaApp, settings: Settings | None = None) -> None:
            """Swap a SQLite URL for a fresh PostgreSQL database."""
            if settings is not None and settings.db_url.startswith("sqlite"):
                # one PostgreSQL database per SQLite file: servers sharing a file (or restarted on it) share it
                url = MAPPED.get(settings.db_url)
                if url is None:
                    url = MAPPED[settings.db_url] = _fresh(server)
                settings.db_url = url
            original(self, settings)

        VirgaApp.__init__ = redirected  # type: ignore[method-assign]
        try:
            yield
        finally:
            VirgaApp.__init__ = original  # type: ignore[method-assign]


CREATED: list[str] = []
MAPPED: dict[str, str] = {}


def _fresh(server: PgServer) -> str:
    """A new empty database (left to die with the server's temp dir)."""
    CREATED.append("db")
    return server.create_database(f"virga_{uuid.uuid4().hex[:12]}")


def pytest_report_header(config: Any) -> str:
    """Say that the run is on PostgreSQL."""
    return "virga: in-process management servers run on a throwaway PostgreSQL (tests.pg.api_on_pg)"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say how many management servers ran on PostgreSQL."""
    terminalreporter.write_line(f"virga: in-process management servers ran on {len(CREATED)} PostgreSQL databases")
