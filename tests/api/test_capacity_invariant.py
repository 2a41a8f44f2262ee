"""Capacity bookkeeping: after a seeded random sequence of VM and volume operations, allocations add up."""

from __future__ import annotations

import pytest
from virga.client import VirgaClient
from virga.core import VirgaApp

from tests.api.capacity_scenario import capacity_mismatches, run_invariant
from tests.factories import Cloud


@pytest.mark.parametrize("seed", [1, 2])
async def test_allocations_add_up_after_random_operations(
    app: VirgaApp, admin: VirgaClient, cloud: Cloud, seed: int
) -> None:
    scenario = await run_invariant(app, admin, cloud, seed, steps=80)
    assert sum(scenario.done.values()) >= 40
    assert capacity_mismatches(app) == []


async def test_the_check_sees_a_lost_update(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    from sqlmodel import select
    from virga.models import Host

    with app.db.session() as s:
        host = s.exec(select(Host)).first()
        assert host is not None
        host.cpuallocated += 500
        s.add(host)
        s.commit()
    assert any("recorded cpu=500" in w for w in capacity_mismatches(app))
