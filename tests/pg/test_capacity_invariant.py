"""Capacity bookkeeping on PostgreSQL: the seeded random operations of tests/api, allocations add up."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from virga.api.server import make_asgi
from virga.client import VirgaClient
from virga.core import VirgaApp

from tests.api.capacity_scenario import capacity_mismatches, run_invariant
from tests.factories import Cloud, build_sim_cloud, make_user


@pytest.fixture
async def admin(app: VirgaApp) -> AsyncIterator[VirgaClient]:
    """An in-process client signed with the root admin's API keys."""
    client = VirgaClient(asgi=make_asgi(app, manage=False), creds=make_user(app, "admin"))
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def cloud(app: VirgaApp) -> Cloud:
    """A simulator zone built in the PostgreSQL database."""
    return build_sim_cloud(app)


async def test_allocations_add_up_after_random_operations(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    assert app.db.engine.dialect.name == "postgresql"
    scenario = await run_invariant(app, admin, cloud, seed=1, steps=80)
    assert sum(scenario.done.values()) >= 40
    assert capacity_mismatches(app) == []
