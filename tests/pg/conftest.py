"""Fixtures: one throwaway PostgreSQL server per test session, a fresh database per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from virga.config import Settings
from virga.core import VirgaApp
from virga.drivers.simulator.world import WORLD

from tests.pg.server import PgServer, required_bindir, running_server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A PostgreSQL server on a unix socket in a temp dir (stopped and deleted at the end)."""
    bindir = required_bindir()
    with running_server(bindir) as server:
        yield server


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """The SQLAlchemy URL of a fresh, empty database (dropped after the test)."""
    name = f"virga_{uuid.uuid4().hex[:12]}"
    url = pg_server.create_database(name)
    try:
        yield url
    finally:
        pg_server.drop_database(name)


def pg_app(url: str, name: str = "ms-1", workers: int = 8) -> VirgaApp:
    """A management server (not started) on a PostgreSQL database."""
    return VirgaApp(Settings(db_url=url, workers=workers, sync_interval=3600, server_name=name))


@pytest.fixture
async def app(pg_url: str) -> AsyncIterator[VirgaApp]:
    """A started management server on a fresh PostgreSQL database, with an empty simulator world."""
    WORLD.open(None)
    WORLD.reset()
    virga = pg_app(pg_url)
    await virga.start()
    try:
        yield virga
    finally:
        await virga.stop()
