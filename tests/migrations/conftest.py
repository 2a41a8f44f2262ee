"""Fixtures: an empty database on SQLite and on a throwaway PostgreSQL server (tests/pg's helper)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pg.server import PgServer, required_bindir, running_server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A PostgreSQL server for this package (a skip, or a failure under CI=true, when it cannot run)."""
    with running_server(required_bindir()) as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database, once on SQLite and once on PostgreSQL (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/virga.db"
        return
    server: PgServer = request.getfixturevalue("pg_server")
    name = f"virga_mig_{uuid.uuid4().hex[:12]}"
    url = server.create_database(name)
    try:
        yield url
    finally:
        server.drop_database(name)
