"""Two management servers share one PostgreSQL: jobs are claimed through it, each runs exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlmodel import select
from virga.api.server import make_asgi
from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.drivers.simulator.world import WORLD
from virga.jobs.engine import RESTART_TEXT
from virga.models import AsyncJob, Host, ManagementServer, Nic, VirtualMachine, Volume, utcnow

from tests.factories import Cloud, build_sim_cloud, make_network, make_user
from tests.pg.conftest import pg_app
from tests.pg.test_pg_flows import offering_of

MB = 2**20


@pytest.fixture
async def servers(pg_url: str) -> AsyncIterator[tuple[VirgaApp, VirgaApp]]:
    """Two started servers (ms-a, ms-b) on one PostgreSQL database; ms-b sweeps for dead servers often."""
    WORLD.open(None)
    WORLD.reset()
    a, b = pg_app(pg_url, "ms-a", workers=4), pg_app(pg_url, "ms-b", workers=4)
    b.jobs.SWEEP = 0.2
    started: list[VirgaApp] = []
    try:
        for app in (a, b):  # one at a time: the first migrates the schema
            await app.start()
            started.append(app)
        yield a, b
    finally:
        for app in started:
            if app.started:
                await app.stop()


def client(app: VirgaApp) -> VirgaClient:
    """An in-process admin client of one server."""
    return VirgaClient(asgi=make_asgi(app, manage=False), creds=make_user(app, "admin"))


async def queue_deploys(clients: list[VirgaClient], cloud: Cloud, net: str, off: str, n: int, prefix: str) -> list[str]:
    """Queue n deploys, alternating between the servers' APIs; return their job ids."""
    calls = [
        clients[i % len(clients)].call(
            "deployVirtualMachine",
            zoneid=cloud.zone,
            templateid=cloud.template,
            serviceofferingid=off,
            networkids=net,
            name=f"{prefix}-{i}",
        )
        for i in range(n)
    ]
    return [r["jobid"] for r in await asyncio.gather(*calls)]


async def wait_all(app: VirgaApp, job_uuids: list[str], timeout: float = 120) -> list[AsyncJob]:
    """Wait until every job has ended; return their rows."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        with app.db.session() as s:
            jobs = list(s.exec(select(AsyncJob).where(AsyncJob.uuid.in_(job_uuids))).all())  # type: ignore[attr-defined]
        if len(jobs) == len(job_uuids) and all(j.status != 0 for j in jobs):
            return jobs
        assert asyncio.get_running_loop().time() < deadline, Counter(j.state for j in jobs)
        await asyncio.sleep(0.1)


def check_whole(app: VirgaApp) -> list[VirtualMachine]:
    """Every live VM is Running with one volume and one NIC; host counters equal the sum of their VMs."""
    with app.db.session() as s:
        vms = list(s.exec(select(VirtualMachine).where(VirtualMachine.removed == None)).all())
        for vm in vms:
            assert vm.state == "Running", (vm.name, vm.state)
            vols = s.exec(select(Volume).where(Volume.vm_id == vm.id, Volume.removed == None)).all()
            nics = s.exec(select(Nic).where(Nic.vm_id == vm.id, Nic.removed == None)).all()
            assert len(vols) == 1 and len(nics) == 1 and nics[0].ipaddress, vm.name
        assert len(s.exec(select(Volume).where(Volume.removed == None)).all()) == len(vms)
        assert len(s.exec(select(Nic).where(Nic.removed == None, Nic.vm_id != None)).all()) == len(vms)
        for h in s.exec(select(Host)).all():
            mine = [v for v in vms if v.host_id == h.id]
            assert h.cpuallocated == sum(v.cpunumber * v.cpuspeed for v in mine), h.name
            assert h.memoryallocated == sum(v.memory * MB for v in mine), h.name
    assert set(WORLD.guests) == {v.uuid for v in vms}
    return vms


async def test_forty_deploys_through_two_servers(servers: tuple[VirgaApp, VirgaApp]) -> None:
    a, b = servers
    cloud = build_sim_cloud(a, hosts=4)
    net, off = make_network(a, cloud.zone, "admin"), offering_of(a)
    ended: dict[str, list[int]] = {"a": [], "b": []}
    a.listeners.append(lambda kind, job_id: kind == "job" and ended["a"].append(job_id))
    b.listeners.append(lambda kind, job_id: kind == "job" and ended["b"].append(job_id))
    clients = [client(a), client(b)]
    try:
        await clients[0].call("configureSimulator", name="start_instance", value="wait:100")
        jobs = await wait_all(a, await queue_deploys(clients, cloud, net, off, 40, "vm"))
    finally:
        for c in clients:
            await c.close()
    assert [j.status for j in jobs] == [1] * 40, [j.result for j in jobs if j.status != 1]
    by_owner = Counter(j.owner for j in jobs)
    assert set(by_owner) == {a.server_uuid, b.server_uuid}, by_owner  # both servers claimed jobs
    assert sum(by_owner.values()) == 40
    ids = {j.id for j in jobs}
    assert sorted(ended["a"] + ended["b"]) == sorted(ids)  # every job ended exactly once, on one server
    assert Counter(ended["a"]) == Counter(j.id for j in jobs if j.owner == a.server_uuid)
    vms = check_whole(a)
    assert sorted(v.name for v in vms) == sorted(f"vm-{i}" for i in range(40))


async def test_stopped_server_jobs_are_adopted(servers: tuple[VirgaApp, VirgaApp]) -> None:
    a, b = servers
    cloud = build_sim_cloud(a, hosts=4)
    net, off = make_network(a, cloud.zone, "admin"), offering_of(a)
    ca, cb = client(a), client(b)
    try:
        await ca.call("configureSimulator", name="start_instance", value="wait:1500")
        uuids = await queue_deploys([ca], cloud, net, off, 12, "r")
        for _ in range(200):  # until ms-a is running some deploys
            if a.jobs.busy:
                break
            await asyncio.sleep(0.02)
        assert a.jobs.busy, "ms-a never started a deploy"
        await a.stop()  # ms-a goes away with its jobs half-done
        with b.db.session() as s:  # ... and stays silent past the dead-server limit
            row = s.exec(select(ManagementServer).where(ManagementServer.uuid == a.server_uuid)).one()
            row.lastseen = utcnow() - timedelta(minutes=5)
            s.add(row)
            s.commit()
        jobs = await wait_all(b, uuids)
        states = await cb.list("listVirtualMachines", "virtualmachine", listall=True)
    finally:
        await ca.close()
        await cb.close()
    failed = [j for j in jobs if j.status == 2]
    assert failed, "stopping ms-a should have interrupted at least one running deploy"
    assert all(j.result["errortext"] == RESTART_TEXT and j.owner == b.server_uuid for j in failed)
    assert [j for j in jobs if j.status == 1], "ms-b should have run the deploys ms-a had not claimed"
    assert all(j.owner == b.server_uuid for j in jobs if j.status == 1)
    vms = check_whole(b)
    assert len(vms) == len(jobs) - len(failed) == len(states)
