"""virga backup while deploys run, virga restore on a fresh data dir: the same cloud, nothing duplicated."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import time
from pathlib import Path

import pytest
from sqlmodel import select
from virga.api.server import make_asgi
from virga.cli import backup
from virga.client import VirgaClient
from virga.config import Settings
from virga.core import VirgaApp
from virga.drivers.simulator.world import WORLD
from virga.models import AsyncJob, Nic, PublicIpAddress, VirtualMachine, Volume
from virga.services import secrets

from tests.api.storage_helpers import offering
from tests.factories import build_sim_cloud, make_network, make_user


def _use(monkeypatch: pytest.MonkeyPatch, base: Path) -> Settings:
    """Point virga at a data directory and a key file of its own."""
    monkeypatch.setenv("VIRGA_DATA_DIR", str(base / "data"))
    monkeypatch.setenv("VIRGA_KEY_FILE", str(base / "conf" / "virga.key"))
    monkeypatch.delenv("VIRGA_DB_URL", raising=False)
    secrets._FERNETS.clear()
    return Settings(
        db_url=f"sqlite:///{base}/data/virga.db",
        simulator_state=str(base / "data" / "simulator.db"),
        workers=8,
        sync_interval=3600,
    )


def _cloud_rows(app: VirgaApp) -> dict[str, list[tuple[object, ...]]]:
    """What must survive: live VMs, volumes, NIC addresses and the public IPs networks hold."""
    with app.db.session() as s:
        return {
            "vm": sorted(
                (v.uuid, v.name) for v in s.exec(select(VirtualMachine).where(VirtualMachine.removed == None))
            ),
            "volume": sorted(
                (v.uuid, v.vm_id is not None) for v in s.exec(select(Volume).where(Volume.removed == None))
            ),
            "nic": sorted((n.uuid, n.network_id, n.ipaddress) for n in s.exec(select(Nic).where(Nic.removed == None))),
            "ip": sorted(
                (i.uuid, i.ipaddress, i.network_id)
                for i in s.exec(select(PublicIpAddress).where(PublicIpAddress.network_id != None))
            ),
        }


async def _settle(app: VirgaApp, timeout: float = 60) -> None:
    """Wait until no job is queued or running."""
    deadline = time.monotonic() + timeout
    while True:
        with app.db.session() as s:
            busy = s.exec(select(AsyncJob).where(AsyncJob.state.in_(("queued", "running")))).first()  # type: ignore[attr-defined]
        if busy is None:
            return
        assert time.monotonic() < deadline, f"job {busy.command} still {busy.state}"
        await asyncio.sleep(0.1)


async def test_backup_during_deploys_restores_the_same_cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = VirgaApp(_use(monkeypatch, tmp_path / "a"))
    await first.start()
    try:
        cloud = build_sim_cloud(first)
        creds = make_user(first, "admin")
        admin = VirgaClient(asgi=make_asgi(first, manage=False), creds=creds)
        net = make_network(first, cloud.zone, "admin")
        common = {"zoneid": cloud.zone, "templateid": cloud.template, "serviceofferingid": offering(first)}
        for i in range(3):
            await admin.run("deployVirtualMachine", networkids=net, name=f"before-{i}", **common)
        before = _cloud_rows(first)
        deploys = [
            asyncio.create_task(admin.run("deployVirtualMachine", networkids=net, name=f"during-{i}", **common))
            for i in range(6)
        ]
        deadline = time.monotonic() + 60
        while len(_cloud_rows(first)["vm"]) < len(before["vm"]) + 2:  # some deploys recorded, others not yet
            assert time.monotonic() < deadline, "the deploys were never recorded"
            await asyncio.sleep(0.005)
        in_flight = sum(not d.done() for d in deploys)  # when the backup starts
        made = await asyncio.to_thread(backup.backup, tmp_path / "virga.backup")
        await asyncio.gather(*deploys)
        await _settle(first)
        after = _cloud_rows(first)
        await admin.close()
    finally:
        await first.stop()
    assert in_flight > 0  # the backup was taken while deploys ran
    assert {"virga.db", "simulator.db", "virga.key"} <= set(made["files"])
    assert stat.S_IMODE((tmp_path / "virga.backup").stat().st_mode) == 0o600

    restored_settings = _use(monkeypatch, tmp_path / "b")
    manifest = backup.restore(tmp_path / "virga.backup")
    assert manifest["format"] == backup.FORMAT
    assert (tmp_path / "b" / "conf" / "virga.key").read_bytes() == (tmp_path / "a" / "conf" / "virga.key").read_bytes()
    with pytest.raises(backup.BackupError, match="exists"):
        backup.restore(tmp_path / "virga.backup")  # never over a database
    with sqlite3.connect(tmp_path / "b" / "data" / "virga.db") as raw:  # the snapshot: deploys half-way in it
        snapped = {n for (n,) in raw.execute("SELECT name FROM virtualmachine WHERE name LIKE 'during-%'")}
    assert snapped, "the backup holds none of the deploys it was taken during"
    second = VirgaApp(restored_settings)
    await second.start()
    try:
        await _settle(second)
        got = _cloud_rows(second)
        admin = VirgaClient(asgi=make_asgi(second, manage=False), creds=creds)  # its secret key decrypts: key restored
        listed = await admin.list("listVirtualMachines", "virtualmachine", listall=True)
        await admin.close()
        with second.db.session() as s:
            vms = list(s.exec(select(VirtualMachine).where(VirtualMachine.removed == None)))
    finally:
        await second.stop()
    names = {name for _, name in got["vm"]}
    assert {name for _, name in before["vm"]} <= names <= {name for _, name in after["vm"]}
    assert len(got["vm"]) == len(names) == len(listed)  # nothing duplicated
    for kind in ("volume", "nic", "ip"):
        assert set(before[kind]) <= set(got[kind]), kind
        assert len({row[0] for row in got[kind]}) == len(got[kind])
    assert len({(net_id, ip) for _, net_id, ip in got["nic"]}) == len(got["nic"])  # no address given twice
    for vm in vms:  # reconciled with what the (restored) simulator runs: nothing left half-way
        assert vm.state in ("Running", "Stopped", "Error"), (vm.name, vm.state)
        if vm.state == "Running":
            assert WORLD.guests[vm.uuid]["power"] == "on"
    os.environ.pop("VIRGA_KEY_FILE", None)
    secrets._FERNETS.clear()
