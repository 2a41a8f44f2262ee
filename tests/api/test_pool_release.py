"""deleteStoragePool releases the pool on every Up host that reaches it; down hosts do not block it."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from sqlmodel import select
from virga.client import ApiError, VirgaClient
from virga.core import VirgaApp
from virga.drivers.simulator.world import WORLD, Rule
from virga.models import Event, Host, StoragePool

from tests.factories import Cloud


def _sim_hosts(app: VirgaApp, cloud: Cloud) -> list[tuple[str, str]]:
    """(host uuid, simulated host name) of the cloud's hosts, in order."""
    with app.db.session() as s:
        rows = s.exec(select(Host).where(Host.uuid.in_(cloud.hosts)).order_by(Host.id)).all()  # type: ignore[attr-defined]
        return [(h.uuid, urlparse(h.url).netloc) for h in rows]


def _pool_uuid_set_up_everywhere(app: VirgaApp, cloud: Cloud, names: list[str]) -> str:
    """Mark the cloud's pool as set up on every simulated host (as after volumes were made there)."""
    for name in names:
        WORLD.pools.setdefault(name, set()).add(cloud.pool)
    return cloud.pool


def _events(app: VirgaApp, pool_uuid: str) -> list[Event]:
    """The release events recorded for a pool."""
    with app.db.session() as s:
        return list(s.exec(select(Event).where(Event.type == "STORAGE.POOL.RELEASE", Event.resource_uuid == pool_uuid)))


async def test_delete_releases_on_up_hosts_and_skips_down_ones(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    (up_id, up), (gone_id, gone) = _sim_hosts(app, cloud)
    with app.db.session() as s:  # a third host whose row says it is down
        first = s.exec(select(Host).where(Host.uuid == up_id)).one()
        down = Host(
            name="sim-host-down",
            zone_id=first.zone_id,
            pod_id=first.pod_id,
            cluster_id=first.cluster_id,
            url=f"simulator://{up}-down",
            state="Disconnected",
            hypervisor="Simulator",
        )
        s.add(down)
        s.commit()
    pool = _pool_uuid_set_up_everywhere(app, cloud, [up, gone, f"{up}-down"])
    WORLD.down_hosts.add(gone)  # its row says Up but it does not answer
    try:
        assert (await admin.call("deleteStoragePool", id=pool))["success"] is True
    finally:
        WORLD.down_hosts.discard(gone)
    assert pool not in WORLD.pools[up]
    assert pool in WORLD.pools[gone] and pool in WORLD.pools[f"{up}-down"]
    assert not await admin.list("listStoragePools", "storagepool", id=pool)
    texts: dict[str, list[str]] = {"INFO": [], "WARN": []}
    for e in _events(app, pool):
        texts[e.level].append(e.description)
    assert len(texts["WARN"]) == 2
    assert any("sim-host-down" in t and "Disconnected" in t for t in texts["WARN"])
    assert any("did not answer" in t for t in texts["WARN"])
    assert texts["INFO"] == ["Released storage pool pool-1 on sim-host-0"]


async def test_a_host_that_fails_to_release_keeps_the_pool(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    names = [name for _, name in _sim_hosts(app, cloud)]
    pool = _pool_uuid_set_up_everywhere(app, cloud, names)
    WORLD.configure(Rule(operation="release_pool", host=names[1], fail="pool is busy", count=1))
    with pytest.raises(ApiError) as err:
        await admin.call("deleteStoragePool", id=pool)
    assert err.value.code == 530 and "sim-host-1" in err.value.text and "pool is busy" in err.value.text
    with app.db.session() as s:
        assert s.exec(select(StoragePool).where(StoragePool.uuid == pool)).one().removed is None
    assert (await admin.call("deleteStoragePool", id=pool))["success"] is True
    assert all(pool not in WORLD.pools[name] for name in names)
