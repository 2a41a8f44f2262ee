"""Recover steps of the VM jobs: a job whose server died is reconciled with what the hypervisor holds."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.drivers.base import PowerState
from virga.drivers.simulator.world import WORLD
from virga.models import AsyncJob, Host, VirtualMachine, VMSnapshot, Volume
from virga.services.capacity import reserve_host
from virga.services.vmmigrate import RESERVED

from tests.api.storage_helpers import deploy
from tests.factories import Cloud


def _set(app: VirgaApp, model: type, uuid: str, **values: Any) -> None:
    """Put a row where a job's synchronous half (or its body, before the server died) left it."""
    with app.db.session() as s:
        row = s.exec(select(model).where(model.uuid == uuid)).one()  # type: ignore[attr-defined]
        for k, v in values.items():
            setattr(row, k, v)
        s.add(row)
        s.commit()


def _row(app: VirgaApp, model: type, uuid: str) -> Any:
    """A row as the database holds it now."""
    with app.db.session() as s:
        return s.exec(select(model).where(model.uuid == uuid)).one()  # type: ignore[attr-defined]


async def _died(
    app: VirgaApp, command: str, instance_uuid: str, params: dict[str, Any] | None = None, progress: int = 0
) -> AsyncJob:
    """A job this server was running when it died: recover it as a restart does and return it, failed."""
    with app.db.session() as s:
        job = AsyncJob(
            cmd=f"virga.api.{command}",
            command=command,
            params=params or {},
            instance_uuid=instance_uuid,
            state="running",
            owner=app.jobs.owner,
            procstatus=progress,
        )
        s.add(job)
        s.commit()
        job_id = job.id
    await app.jobs.recover()
    with app.db.session() as s:
        done = s.get(AsyncJob, job_id)
        assert done is not None and done.status == 2 and done.resultcode == 530
        return done


async def _driver(app: VirgaApp, vm_uuid: str) -> Any:
    """The driver of the host a VM is (or was last) on."""
    vm = _row(app, VirtualMachine, vm_uuid)
    with app.db.session() as s:
        host = s.get(Host, vm.host_id or vm.last_host_id)
    return await app.hosts.driver(host)


async def test_interrupted_vm_snapshot_is_dropped_everywhere(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    vm = await deploy(app, admin, cloud, "admin")
    row = _row(app, VirtualMachine, vm["id"])
    with app.db.session() as s:
        vms = VMSnapshot(
            name="half",
            vm_id=row.id,
            zone_id=row.zone_id,
            account_id=row.account_id,
            domain_id=row.domain_id,
            state="Creating",
        )
        s.add(vms)
        s.commit()
        uuid = vms.uuid
    await (await _driver(app, vm["id"])).snapshot_instance(vm["id"], uuid, False)  # the driver made it, then death
    assert uuid in WORLD.guests[vm["id"]]["snapshots"]
    await _died(app, "createVMSnapshot", uuid)
    assert uuid not in WORLD.guests[vm["id"]]["snapshots"]
    after = _row(app, VMSnapshot, uuid)
    assert after.state == "Error" and after.removed is not None
    assert await admin.list("listVMSnapshot", "vmSnapshot") == []


async def test_interrupted_vm_snapshot_delete_is_finished(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    vm = await deploy(app, admin, cloud, "admin")
    snap = (await admin.run("createVMSnapshot", virtualmachineid=vm["id"]))["vmsnapshot"]
    _set(app, VMSnapshot, snap["id"], state="Expunging")  # deleteVMSnapshot's request, then the server died
    await _died(app, "deleteVMSnapshot", snap["id"])
    after = _row(app, VMSnapshot, snap["id"])
    assert after.state == "Removed" and after.removed is not None and not after.current
    assert snap["id"] not in WORLD.guests[vm["id"]]["snapshots"]


async def test_interrupted_vm_snapshot_revert_is_ready_again(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    vm = await deploy(app, admin, cloud, "admin")
    snap = (await admin.run("createVMSnapshot", virtualmachineid=vm["id"], snapshotmemory=True))["vmsnapshot"]
    _set(app, VMSnapshot, snap["id"], state="Reverting")
    await _died(app, "revertToVMSnapshot", snap["id"])
    assert (await admin.list("listVMSnapshot", "vmSnapshot", vmsnapshotid=snap["id"]))[0]["state"] == "Ready"


async def test_interrupted_reboot_takes_the_state_the_host_reports(
    app: VirgaApp, admin: VirgaClient, cloud: Cloud
) -> None:
    vm = await deploy(app, admin, cloud, "admin")
    row = _row(app, VirtualMachine, vm["id"])
    with app.db.session() as s:
        before = s.get(Host, row.host_id).cpuallocated  # type: ignore[union-attr]
    drv = await _driver(app, vm["id"])
    await drv.stop_instance(vm["id"], force=True)  # the reboot's power-off happened, its power-on never did
    await _died(app, "rebootVirtualMachine", vm["id"])
    after = _row(app, VirtualMachine, vm["id"])
    assert after.state == "Stopped" and after.host_id is None and after.last_host_id == row.host_id
    with app.db.session() as s:
        assert s.get(Host, row.host_id).cpuallocated == before - row.cpunumber * row.cpuspeed  # type: ignore[union-attr]
    # and a reboot that completed on the host leaves the VM Running
    await admin.run("startVirtualMachine", id=vm["id"])
    await _died(app, "rebootVirtualMachine", vm["id"])
    assert _row(app, VirtualMachine, vm["id"]).state == "Running"


async def test_interrupted_scale_puts_the_definition_back(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    vm = await deploy(app, admin, cloud, "admin")
    await admin.run("stopVirtualMachine", id=vm["id"])
    drv = await _driver(app, vm["id"])
    await drv.scale_instance(vm["id"], vm["cpunumber"] + 1, vm["memory"] * 2)  # the body's driver step, then death
    await _died(app, "scaleVirtualMachine", vm["id"], {"cpunumber": vm["cpunumber"] + 1, "memory": vm["memory"] * 2})
    info = await drv.get_instance(vm["id"])
    assert (info.cpus, info.memory_mb) == (vm["cpunumber"], vm["memory"]) and info.state == PowerState.STOPPED
    assert _row(app, VirtualMachine, vm["id"]).cpunumber == vm["cpunumber"]


def _allocated(app: VirgaApp, host_id: int) -> int:
    """The CPU a host has allocated (MHz)."""
    with app.db.session() as s:
        return s.get(Host, host_id).cpuallocated  # type: ignore[union-attr]


async def _half_migrated(app: VirgaApp, vm: dict[str, Any]) -> tuple[Any, Host, Host]:
    """A live migration whose first transaction committed (VM Migrating, target reserved), then the server died."""
    row = _row(app, VirtualMachine, vm["id"])
    with app.db.session() as s:
        src = s.get(Host, row.host_id)
        dst = s.exec(select(Host).where(Host.id != row.host_id, Host.cluster_id == src.cluster_id)).first()  # type: ignore[union-attr]
        assert src is not None and dst is not None
        reserve_host(s, dst.id, row)
        s.commit()
    _set(app, VirtualMachine, vm["id"], state="Migrating")
    return row, src, dst


async def test_interrupted_migration_lands_where_the_guest_runs(
    app: VirgaApp, admin: VirgaClient, cloud: Cloud
) -> None:
    vm = await deploy(app, admin, cloud, "admin")
    row, src, dst = await _half_migrated(app, vm)
    before_src, before_dst = _allocated(app, src.id or 0), _allocated(app, dst.id or 0)
    src_drv, dst_drv = await app.hosts.driver(src), await app.hosts.driver(dst)
    await src_drv.migrate_instance(vm["id"], dst_drv, live=True)  # the hypervisor moved it; the database never heard
    await _died(app, "migrateVirtualMachine", vm["id"], {"hostid": dst.uuid}, progress=RESERVED)
    after = _row(app, VirtualMachine, vm["id"])
    assert after.state == "Running" and after.host_id == dst.id and after.last_host_id == dst.id
    mhz = row.cpunumber * row.cpuspeed
    assert _allocated(app, src.id or 0) == before_src - mhz and _allocated(app, dst.id or 0) == before_dst


async def test_interrupted_migration_that_did_not_move_stays_put(
    app: VirgaApp, admin: VirgaClient, cloud: Cloud
) -> None:
    vm = await deploy(app, admin, cloud, "admin")
    row, src, dst = await _half_migrated(app, vm)
    before_src, before_dst = _allocated(app, src.id or 0), _allocated(app, dst.id or 0)
    await _died(app, "migrateVirtualMachine", vm["id"], {"hostid": dst.uuid}, progress=RESERVED)
    after = _row(app, VirtualMachine, vm["id"])
    assert after.state == "Running" and after.host_id == src.id
    mhz = row.cpunumber * row.cpuspeed
    assert _allocated(app, src.id or 0) == before_src and _allocated(app, dst.id or 0) == before_dst - mhz


async def test_interrupted_destroy_is_finished(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    vm = await deploy(app, admin, cloud, "admin")
    row = _row(app, VirtualMachine, vm["id"])
    before = _allocated(app, row.host_id or 0)
    await (await _driver(app, vm["id"])).stop_instance(vm["id"], force=True)  # the body's power-off, then death
    await _died(app, "destroyVirtualMachine", vm["id"], {"expunge": False, "volumeids": []})
    after = _row(app, VirtualMachine, vm["id"])
    assert after.state == "Destroyed" and after.host_id is None and after.last_host_id == row.host_id
    assert _allocated(app, row.host_id or 0) == before - row.cpunumber * row.cpuspeed


async def test_interrupted_expunge_is_finished(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    vm = await deploy(app, admin, cloud, "admin")
    await admin.run("destroyVirtualMachine", id=vm["id"])
    _set(app, VirtualMachine, vm["id"], state="Expunging")  # the expunge's first transaction, then death
    await _died(app, "expungeVirtualMachine", vm["id"])
    after = _row(app, VirtualMachine, vm["id"])
    assert after.state == "Expunged" and after.removed is not None
    assert vm["id"] not in WORLD.guests
    with app.db.session() as s:
        vols = s.exec(select(Volume).where(Volume.vm_id == after.id, Volume.removed == None)).all()
    assert vols == []
