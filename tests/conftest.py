"""Shared fixtures: a management server on a temporary database and API clients against it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from virga.api.server import make_asgi
from virga.client import Credentials, VirgaClient
from virga.config import Settings
from virga.core import VirgaApp
from virga.drivers.simulator.world import WORLD

from tests.factories import Cloud, build_sim_cloud, make_user
from tests.support import need  # noqa: F401  (re-exported for this package's tests)


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[VirgaApp]:
    """A started management server on a fresh SQLite database, with an empty simulator world."""
    WORLD.open(None)
    WORLD.reset()
    virga = VirgaApp(Settings(db_url=f"sqlite:///{tmp_path}/virga.db", workers=8, sync_interval=3600))
    await virga.start()
    yield virga
    await virga.stop()


@pytest.fixture
async def admin(app: VirgaApp) -> AsyncIterator[VirgaClient]:
    """An in-process client signed with the root admin's API keys."""
    creds = make_user(app, "admin")
    client = VirgaClient(asgi=make_asgi(app, manage=False), creds=creds)
    yield client
    await client.close()


@pytest.fixture
async def cloud(app: VirgaApp) -> Cloud:
    """A simulator zone: 1 pod, 1 cluster, 2 hosts, a pool, an image store, public IPs, a template."""
    return build_sim_cloud(app)


async def client_for(app: VirgaApp, creds: Credentials) -> VirgaClient:
    """An in-process client for some credentials."""
    return VirgaClient(asgi=make_asgi(app, manage=False), creds=creds)
