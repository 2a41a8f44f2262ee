"""Power cycle, snapshots, migration, events, hot-plug, console and stats against the fake XAPI."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from virga.drivers.base import DriverError, InstanceEvent, NotSupported, PowerState, VolumeSpec
from virga.drivers.xenapi import XenAPIDriver

from tests.fakes.xapi import FakeXapi
from tests.xenapi.conftest import conn, deploy, pool, record, until


async def test_power_cycle(fake: FakeXapi, driver: XenAPIDriver) -> None:
    made = await deploy(fake, driver)
    assert (await driver.start_instance(made.uuid)).state == PowerState.RUNNING
    assert record(fake, "VM", name_label=made.name)["resident_on"] == await driver.host()
    assert (await driver.reboot_instance(made.uuid)).state == PowerState.RUNNING
    assert (await driver.suspend_instance(made.uuid)).state == PowerState.SUSPENDED
    assert (await driver.resume_instance(made.uuid)).state == PowerState.RUNNING
    assert (await driver.stop_instance(made.uuid)).state == PowerState.STOPPED
    assert "Async.VM.clean_shutdown" in fake.calls and "Async.VM.hard_shutdown" not in fake.calls
    with pytest.raises(DriverError, match="VM_BAD_POWER_STATE: the VM is halted but the operation needs it running"):
        await driver.suspend_instance(made.uuid)
    await driver.destroy_instance(made.uuid)
    await driver.delete_volume(made.volumes[0])


async def test_guest_ignoring_acpi_is_hard_stopped_after_timeout(fake: FakeXapi) -> None:
    drv = XenAPIDriver(conn(fake, shutdown_timeout="0.3"))
    await drv.connect()
    made = await deploy(fake, drv)
    await drv.start_instance(made.uuid)
    record(fake, "VM", name_label=made.name)["other_config"]["fake_ignore_acpi"] = "true"
    assert (await drv.stop_instance(made.uuid)).state == PowerState.STOPPED
    assert "task.cancel" in fake.calls and "Async.VM.hard_shutdown" in fake.calls
    await drv.destroy_instance(made.uuid)
    await drv.close()


async def test_async_task_progress_is_reported(fake: FakeXapi) -> None:
    seen: list[tuple[str, float]] = []
    drv = XenAPIDriver(conn(fake), on_progress=lambda op, frac: seen.append((op, frac)))
    await drv.connect()
    fake.db.task_step = 0.05
    made = await deploy(fake, drv)
    clone = [f for op, f in seen if op == "VM.clone"]
    assert clone[-1] == 1.0 and len(clone) >= 3 and clone == sorted(clone)
    assert not fake.db.table("task")  # finished tasks are destroyed
    await drv.destroy_instance(made.uuid)


async def test_snapshot_and_revert(fake: FakeXapi, driver: XenAPIDriver) -> None:
    made = await deploy(fake, driver)
    vdis = len(fake.db.table("VDI"))
    snap = await driver.snapshot_instance(made.uuid, "before", memory=False)
    assert record(fake, "VM", uuid=snap.path)["is_a_snapshot"] is True
    await driver.scale_instance(made.uuid, 4, 1024)
    reverted = await driver.revert_instance_snapshot(made.uuid, snap)
    assert (reverted.cpus, reverted.memory_mb) == (2, 512)
    with pytest.raises(NotSupported, match="not supported by the XenServer hypervisor"):
        await driver.snapshot_instance(made.uuid, "mem", memory=True)
    await driver.delete_instance_snapshot(made.uuid, snap)
    assert len(fake.db.table("VDI")) == vdis
    await driver.destroy_instance(made.uuid)


async def test_pool_migrate(fake: FakeXapi, driver: XenAPIDriver) -> None:
    other = XenAPIDriver(conn(fake, "xs2"))
    await other.connect()
    made = await deploy(fake, driver)
    await driver.start_instance(made.uuid)
    moved = await driver.migrate_instance(made.uuid, other, live=True)
    assert moved.state == PowerState.RUNNING and moved.extra["host"] == "xs2"
    assert made.uuid in {i.uuid for i in await other.list_instances()}
    assert made.uuid not in {i.uuid for i in await driver.list_instances()}
    assert "Async.VM.pool_migrate" in fake.calls
    await other.destroy_instance(made.uuid)
    await other.close()


async def test_events_follow_power_state(fake: FakeXapi) -> None:
    drv = XenAPIDriver(conn(fake, event_timeout="0.5"))
    await drv.connect()
    made = await deploy(fake, drv)
    got: list[InstanceEvent] = []

    async def listen() -> None:
        async for event in drv.events():
            if event.uuid == made.uuid:
                got.append(event)

    task = asyncio.create_task(listen())
    try:
        await asyncio.sleep(0.3)  # let the baseline event.from happen
        await drv.start_instance(made.uuid)
        await until(lambda: any(e.state == PowerState.RUNNING for e in got))
        await drv.stop_instance(made.uuid, force=True)
        await until(lambda: got[-1].state == PowerState.STOPPED)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert "power_state Halted -> Running" in [e.reason for e in got]
    await drv.destroy_instance(made.uuid)
    await drv.close()


async def test_hot_plug_console_and_stats(fake: FakeXapi, driver: XenAPIDriver) -> None:
    made = await deploy(fake, driver)
    await driver.start_instance(made.uuid)
    data = VolumeSpec(uuid=str(uuid.uuid4()), name="DATA", size_bytes=1 << 30, pool=pool(fake), device_id=1)
    info = await driver.prepare_volume(data, None)
    data = VolumeSpec(**{**data.__dict__, "path": info.path})
    await driver.attach_volume(made.uuid, data)
    plugged = [fake.db.get("VBD", b) for b in record(fake, "VM", name_label=made.name)["VBDs"]]
    assert [b["device"] for b in plugged if b["userdevice"] == "1"] == ["xvdb"]
    await driver.detach_volume(made.uuid, data)
    await driver.delete_volume(data)
    console = await driver.console(made.uuid)
    assert console.kind == "vnc" and console.location.startswith("https://127.0.0.1/console?ref=OpaqueRef:")
    stats = await driver.instance_stats(made.uuid)
    assert stats.memory_kb == 512 * 1024 and stats.cpu_percent > 0
    await driver.destroy_instance(made.uuid)
