"""The driver contract: every driver passes the same tests (see harness_*.py)."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from virga.drivers.base import (
    Capability,
    DriverError,
    InstanceNotFound,
    InstanceSpec,
    InvalidSpec,
    NicSpec,
    NotSupported,
    PoolSpec,
    PowerState,
    VolumeSpec,
)

from tests.contract.harness import Harness


def _spec(h: Harness, root_path: str, vol: VolumeSpec) -> InstanceSpec:
    """A small instance spec on the harness's pool and bridge."""
    vid = str(uuid.uuid4())
    root = VolumeSpec(uuid=vol.uuid, name=vol.name, size_bytes=vol.size_bytes, pool=h.pool, path=root_path)
    nic = NicSpec(
        uuid=str(uuid.uuid4()),
        mac="02:00:11:22:33:44",
        ip="10.1.1.10",
        netmask="255.255.255.0",
        gateway="10.1.1.1",
        network_uuid="net-1",
        bridge=h.bridge,
    )
    return InstanceSpec(
        uuid=vid,
        name=f"i-2-{vid[:8]}-VM",
        display_name="contract",
        cpus=1,
        cpu_mhz=500,
        memory_mb=128,
        volumes=(root,),
        nics=(nic,),
        template=h.template,
        hostname="contract",
    )


async def _make(h: Harness) -> InstanceSpec:
    """Prepare a root volume and define an instance from it."""
    vol = VolumeSpec(uuid=str(uuid.uuid4()), name="ROOT", size_bytes=64 << 20, pool=h.pool)
    info = await h.driver.prepare_volume(vol, h.template)
    assert info.path
    spec = _spec(h, info.path, vol)
    defined = await h.driver.create_instance(spec)
    assert defined.uuid == spec.uuid
    assert defined.state == PowerState.STOPPED
    return spec


async def test_facts_and_ping(harness: Harness) -> None:
    facts = await harness.driver.connect()
    assert facts.cpu_count > 0 and facts.memory_bytes > 0
    assert facts.hypervisor == harness.driver.hypervisor
    await harness.driver.ping()


async def test_lifecycle(harness: Harness) -> None:
    d = harness.driver
    spec = await _make(harness)
    assert spec.uuid in {i.uuid for i in await d.list_instances()}
    assert (await d.start_instance(spec.uuid)).state == PowerState.RUNNING
    assert (await d.get_instance(spec.uuid)).state == PowerState.RUNNING
    assert (await d.reboot_instance(spec.uuid)).state == PowerState.RUNNING
    assert (await d.stop_instance(spec.uuid, force=True)).state == PowerState.STOPPED
    await d.destroy_instance(spec.uuid)
    with pytest.raises(InstanceNotFound):
        await d.get_instance(spec.uuid)
    await d.delete_volume(spec.volumes[0])


async def test_unknown_instance_raises_typed_error(harness: Harness) -> None:
    with pytest.raises(InstanceNotFound):
        await harness.driver.get_instance(str(uuid.uuid4()))
    with pytest.raises(DriverError):
        await harness.driver.start_instance(str(uuid.uuid4()))


async def test_capabilities_are_honest(harness: Harness) -> None:
    """A capability a driver lacks is refused with NotSupported; one it declares works."""
    d = harness.driver
    spec = await _make(harness)
    try:
        if d.supports(Capability.VM_SNAPSHOT):
            snap = await d.snapshot_instance(spec.uuid, "s1", memory=False)
            await d.revert_instance_snapshot(spec.uuid, snap)
            await d.delete_instance_snapshot(spec.uuid, snap)
        else:
            with pytest.raises(NotSupported):
                await d.snapshot_instance(spec.uuid, "s1", memory=False)
        if not d.supports(Capability.LIVE_MIGRATION):
            with pytest.raises(NotSupported):
                await d.migrate_instance(spec.uuid, harness.second or d, live=True)
    finally:
        await d.destroy_instance(spec.uuid)
        await d.delete_volume(spec.volumes[0])


async def test_volume_attach_detach(harness: Harness) -> None:
    d = harness.driver
    spec = await _make(harness)
    data = VolumeSpec(uuid=str(uuid.uuid4()), name="DATA", size_bytes=32 << 20, pool=harness.pool, kind="DATADISK")
    try:
        info = await d.prepare_volume(data, None)
        data = VolumeSpec(**{**data.__dict__, "path": info.path, "device_id": 1})
        await d.attach_volume(spec.uuid, data)
        await d.detach_volume(spec.uuid, data)
        await d.delete_volume(data)
    except NotSupported:
        assert not d.supports(Capability.HOT_PLUG_VOLUME)
    finally:
        await d.destroy_instance(spec.uuid)
        await d.delete_volume(spec.volumes[0])


async def test_cold_migration(harness: Harness) -> None:
    d, other = harness.driver, harness.second
    if other is None or not d.supports(Capability.COLD_MIGRATION):
        pytest.skip(f"{d.hypervisor} harness has no second host or no cold migration")
    spec = await _make(harness)
    moved = await d.migrate_instance(spec.uuid, other, live=False)
    assert moved.uuid == spec.uuid
    assert spec.uuid in {i.uuid for i in await other.list_instances()}
    assert spec.uuid not in {i.uuid for i in await d.list_instances()}
    await other.destroy_instance(spec.uuid)
    await d.delete_volume(spec.volumes[0])


async def test_stats_when_running(harness: Harness) -> None:
    d = harness.driver
    if not d.supports(Capability.STATS):
        with pytest.raises(NotSupported):
            await d.instance_stats(str(uuid.uuid4()))
        return
    spec = await _make(harness)
    try:
        await d.start_instance(spec.uuid)
        stats = await d.instance_stats(spec.uuid)
        assert stats.memory_kb > 0
    finally:
        await d.destroy_instance(spec.uuid)
        await d.delete_volume(spec.volumes[0])


async def test_release_pool(harness: Harness) -> None:
    """Releasing undoes the host's pool setup and is idempotent; the pool is set up again when used."""
    d, set_up = harness.driver, harness.pool_set_up
    disk = VolumeSpec(uuid=str(uuid.uuid4()), name="DATA", size_bytes=32 << 20, pool=harness.pool, kind="DATADISK")
    first = await d.prepare_volume(disk, None)
    disk = VolumeSpec(**{**disk.__dict__, "path": first.path})
    assert set_up is None or await set_up()
    await d.release_pool(harness.pool)
    assert set_up is None or not await set_up()
    await d.release_pool(harness.pool)
    never = dataclasses.replace(harness.pool, uuid=str(uuid.uuid4()), name=f"never-{uuid.uuid4().hex[:8]}")
    await d.release_pool(never)
    second = VolumeSpec(uuid=str(uuid.uuid4()), name="DATA2", size_bytes=32 << 20, pool=harness.pool, kind="DATADISK")
    again = await d.prepare_volume(second, None)
    assert set_up is None or await set_up()
    assert again.path and again.path != first.path
    await d.delete_volume(VolumeSpec(**{**second.__dict__, "path": again.path}))
    await d.delete_volume(disk)


async def test_migrate_volume(harness: Harness) -> None:
    """A driver declaring MIGRATE_VOLUME moves a disk to the harness's second pool; the others refuse it."""
    d = harness.driver
    disk = VolumeSpec(uuid=str(uuid.uuid4()), name="DATA", size_bytes=32 << 20, pool=harness.pool, kind="DATADISK")
    disk = dataclasses.replace(disk, path=(await d.prepare_volume(disk, None)).path)
    try:
        if not d.supports(Capability.MIGRATE_VOLUME):
            with pytest.raises(NotSupported):
                await d.migrate_volume(disk, harness.pool)
            return
        target = _second_pool(harness)
        if reason := harness.extra.get("no_copy_between_pools"):
            pytest.skip(str(reason))
        moved = await d.migrate_volume(disk, target)
        assert moved.path and moved.path != disk.path and moved.size_bytes == disk.size_bytes
        with pytest.raises(InvalidSpec):  # the source is gone
            await d.migrate_volume(disk, target)
        disk = dataclasses.replace(disk, pool=target, path=moved.path)
    finally:
        await d.delete_volume(disk)


def _second_pool(harness: Harness) -> PoolSpec:
    """The pool a driver declaring MIGRATE_VOLUME moves disks to in the contract tests."""
    target = harness.extra.get("second_pool")
    assert isinstance(target, PoolSpec), f"the {harness.driver.hypervisor} harness must give a second_pool"
    return target


async def test_migrate_volume_refusals(harness: Harness) -> None:
    """A disk a running guest uses is refused (NotSupported, the guest keeps running); a missing one is InvalidSpec."""
    d = harness.driver
    if not d.supports(Capability.MIGRATE_VOLUME):
        pytest.skip(f"{d.hypervisor} does not migrate volumes")
    target = _second_pool(harness)
    missing = VolumeSpec(uuid=str(uuid.uuid4()), name="GONE", size_bytes=32 << 20, pool=harness.pool)
    with pytest.raises(InvalidSpec):
        await d.migrate_volume(dataclasses.replace(missing, path=f"{harness.pool.path}/{missing.uuid}.qcow2"), target)
    spec = await _make(harness)
    try:
        await d.start_instance(spec.uuid)
        with pytest.raises(NotSupported):
            await d.migrate_volume(spec.volumes[0], target)
        assert (await d.get_instance(spec.uuid)).state == PowerState.RUNNING
    finally:
        await d.destroy_instance(spec.uuid)
        await d.delete_volume(spec.volumes[0])
