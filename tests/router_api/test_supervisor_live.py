"""`python -m virga.appliance.router` as a process: rebuilds lost routers, removes orphans, heals, stops cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest
from sqlmodel import select
from virga.appliance.router import procs
from virga.appliance.router.apply import RouterManager
from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.models import Event, Network, utcnow
from virga.services.routing import state_dir

from tests.api.netutil import network, vm
from tests.router.netkit import try_sh
from tests.router_api.conftest import NetZone

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def _until(what: str, check: Callable[[], bool], proc: subprocess.Popen, wait_s: float = 60) -> None:
    """Poll until check() holds; fail naming what the supervisor did not do."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if await asyncio.to_thread(check):
            return
        assert proc.poll() is None, f"supervisor exited ({proc.returncode}) before: {what}"
        await asyncio.sleep(0.2)
    raise AssertionError(f"supervisor did not manage: {what}")


@pytest.fixture
def supervisor(app: VirgaApp, tmp_path) -> Iterator[Callable[[], subprocess.Popen]]:
    """Start the supervisor as a subprocess on the test's database; always stopped afterwards."""
    started: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        log = open(tmp_path / "supervisor.log", "ab")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen(
            [sys.executable, "-m", "virga.appliance.router", "--db-url", app.settings.db_url, "--interval", "0.5"],
            stdout=log,
            stderr=log,
            env={**os.environ, "CI": ""},
        )
        log.close()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_supervisor_rebuilds_removes_and_heals(
    app: VirgaApp, admin: VirgaClient, netzone: NetZone, supervisor: Callable[[], subprocess.Popen]
) -> None:
    nz, cloud = netzone, netzone.cloud
    kept = await network(admin, app, cloud, "kept")
    gone = await network(admin, app, cloud, "gone", gateway="10.1.2.1", netmask="255.255.255.0")
    for net in (kept, gone):
        await vm(admin, app, cloud, net["id"], f"vm-{net['name']}")
    mgr = RouterManager(state_dir(app), host_netns=nz.host)
    assert set(mgr.list_routers()) == {kept["id"], gone["id"]}
    await mgr.destroy(kept["id"])  # as after a host reboot: the database says Running, the host has nothing
    with app.db.session() as s:  # a network removed while its router was out of reach: an orphan here
        row = s.exec(select(Network).where(Network.uuid == gone["id"])).one()
        row.removed = utcnow()
        s.add(row)
        s.commit()
    proc = supervisor()
    await _until("rebuild the lost router", lambda: mgr.status_sync(kept["id"]).healthy, proc)
    await _until("remove the orphan router", lambda: mgr.list_routers() == [kept["id"]], proc)
    assert try_sh(["true"], "vr-" + gone["id"].replace("-", "")[:8])[0] != 0  # its namespace is gone too

    rdir = mgr.router_dir(kept["id"])
    os.kill(procs.read_pid(rdir / "dnsmasq.pid") or 0, signal.SIGKILL)

    def healed() -> bool:
        """Whether the supervisor recorded restarting dnsmasq."""
        with app.db.session() as s:
            events = s.exec(select(Event).where(Event.type == "ROUTER.HEALTH")).all()
        return any("dnsmasq restarted" in e.description for e in events)

    await _until("restart the killed dnsmasq", healed, proc)
    assert mgr.status_sync(kept["id"]).healthy
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert mgr.status_sync(kept["id"]).healthy  # the routers outlive their supervisor
