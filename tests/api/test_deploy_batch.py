"""Concurrent deploys share batched transactions: capacity, unique addresses and per-request rollback hold."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlmodel import select
from virga.client import ApiError, VirgaClient
from virga.core import VirgaApp
from virga.jobs.batch import Phase
from virga.models import Host, Nic, ServiceOffering, VirtualMachine, Volume

from tests.factories import Cloud, make_network


def _small(app: VirgaApp) -> tuple[str, int]:
    """The Small Instance offering's uuid and memory (MB)."""
    with app.db.session() as s:
        off = s.exec(select(ServiceOffering).where(ServiceOffering.name == "Small Instance")).one()
        return off.uuid, off.memory or 0


async def _deploy(admin: VirgaClient, cloud: Cloud, off: str, net: str, name: str, **extra: str) -> dict | ApiError:
    """Deploy one VM and return its view, or the error the job ended with."""
    try:
        res = await admin.run(
            "deployVirtualMachine",
            zoneid=cloud.zone,
            templateid=cloud.template,
            serviceofferingid=off,
            networkids=net,
            name=name,
            **extra,
        )
        return res["virtualmachine"]
    except ApiError as err:
        return err


async def test_concurrent_deploys_never_overcommit(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    net = make_network(app, cloud.zone, "admin")
    off, memory = _small(app)
    with app.db.session() as s:  # room for exactly 3 Small Instances per host, 2 hosts
        for host in s.exec(select(Host)):
            host.memorytotal = 3 * memory * 2**20
            s.add(host)
        s.commit()
    results = await asyncio.gather(*(_deploy(admin, cloud, off, net, f"cap-{i}") for i in range(9)))
    ok = [r for r in results if isinstance(r, dict)]
    failed = [r for r in results if isinstance(r, ApiError)]
    assert len(ok) == 6 and len(failed) == 3
    assert all(err.code == 533 for err in failed)
    assert len({vm["nic"][0]["ipaddress"] for vm in ok}) == 6
    assert len({vm["nic"][0]["macaddress"] for vm in ok}) == 6
    with app.db.session() as s:
        for host in s.exec(select(Host)):
            assert host.memoryallocated == 3 * memory * 2**20
        live = s.exec(select(VirtualMachine).where(VirtualMachine.removed == None)).all()
        assert sorted(v.name for v in live) == sorted(vm["name"] for vm in ok)
        ids = [v.id for v in live]
        assert all(v.vm_id in ids for v in s.exec(select(Volume).where(Volume.removed == None)))
        assert all(n.vm_id in ids for n in s.exec(select(Nic).where(Nic.removed == None)))


async def test_one_failure_in_a_batch_rolls_back_only_itself(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    net = make_network(app, cloud.zone, "admin")
    off, _ = _small(app)
    results = await asyncio.gather(
        _deploy(admin, cloud, off, net, "ip-a", ipaddress="10.1.1.50"),
        _deploy(admin, cloud, off, net, "ip-b", ipaddress="10.1.1.50"),
        _deploy(admin, cloud, off, net, "ip-c"),
    )
    ok = [r for r in results if isinstance(r, dict)]
    failed = [r for r in results if isinstance(r, ApiError)]
    assert len(ok) == 2 and len(failed) == 1 and failed[0].code == 431
    assert "10.1.1.50" in {vm["nic"][0]["ipaddress"] for vm in ok}
    with app.db.session() as s:
        nics = s.exec(select(Nic).where(Nic.removed == None)).all()
        assert sorted(n.ipaddress for n in nics).count("10.1.1.50") == 1
        assert len(nics) == 2


async def test_batcher_savepoints(app: VirgaApp) -> None:
    with app.db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE batch_probe (v INTEGER)"))
    batcher = app.jobs.batcher(Phase("test.probe"))

    def write(v: int, fail: bool) -> int:
        def fn(s: object) -> int:
            s.execute(text("INSERT INTO batch_probe VALUES (:v)"), {"v": v})  # type: ignore[attr-defined]
            if fail:
                raise ValueError(f"request {v} fails")
            return v

        return fn  # type: ignore[return-value]

    got = await asyncio.gather(*(batcher.submit(write(v, v == 2)) for v in (1, 2, 3)), return_exceptions=True)
    assert got[0] == 1 and got[2] == 3 and isinstance(got[1], ValueError)
    with app.db.session() as s:
        assert sorted(r[0] for r in s.execute(text("SELECT v FROM batch_probe"))) == [1, 3]
