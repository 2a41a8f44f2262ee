"""The KVM driver against real libvirtd + QEMU (TCG here) with the tiny guest template."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from virga.drivers.base import (
    InstanceNotFound,
    InstanceSpec,
    InvalidSpec,
    NicSpec,
    PoolSpec,
    PowerState,
    TemplateSpec,
    VolumeSpec,
)

from tests.libvirt.support import LOGIN

pytestmark = [pytest.mark.integration, pytest.mark.slow]
BOOT = 180.0


def _mac() -> str:
    """A random locally administered MAC."""
    b = os.urandom(3)
    return f"02:00:00:{b[0]:02x}:{b[1]:02x}:{b[2]:02x}"


async def _define(driver, pool: PoolSpec, template: TemplateSpec, bridge: str) -> InstanceSpec:  # noqa: ANN001
    """Prepare a root overlay and define a small guest on the test bridge."""
    vol = VolumeSpec(uuid=str(uuid.uuid4()), name="ROOT", size_bytes=64 << 20, pool=pool)
    info = await driver.prepare_volume(vol, template)
    vid = str(uuid.uuid4())
    nic = NicSpec(
        uuid=str(uuid.uuid4()), mac=_mac(), ip=None, netmask=None, gateway=None, network_uuid="n", bridge=bridge
    )
    spec = InstanceSpec(
        uuid=vid,
        name=f"virga-it-{vid[:8]}",
        display_name="it",
        cpus=1,
        cpu_mhz=1000,
        memory_mb=160,
        volumes=(replace(vol, path=info.path),),
        nics=(nic,),
        template=template,
    )
    await driver.create_instance(spec)
    driver.created.append(vid)
    return spec


async def _boot(driver, vid: str) -> None:  # noqa: ANN001
    """Start a guest and wait for its login line on the serial console."""
    console = await driver.start_with_console(vid)
    try:
        await console.wait_for(LOGIN, BOOT)
    finally:
        await console.close()


async def _shell(driver, vid: str, command: str, expect: bytes, timeout: float = 60) -> bytes:  # noqa: ANN001
    """Type a command on the guest's serial shell and wait for expected output."""
    console = await driver.open_console(vid)
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            await console.write(command.encode() + b"\n")
            try:
                return await console.wait_for(expect, 5)
            except TimeoutError:
                if asyncio.get_running_loop().time() > deadline:
                    raise
    finally:
        await console.close()


async def test_guest_lifecycle_volumes_snapshots(driver, pool, template, bridge) -> None:  # noqa: ANN001
    spec = await _define(driver, pool, template, bridge)
    vid = spec.uuid
    await _boot(driver, vid)
    assert (await driver.get_instance(vid)).extra["managed"] == "true"
    assert (await driver.stop_instance(vid)).state == PowerState.STOPPED
    await _boot(driver, vid)
    stats = await driver.instance_stats(vid)
    assert stats.memory_kb > 0 and stats.cpu_time_ns > 0

    data = VolumeSpec(uuid=str(uuid.uuid4()), name="DATA", size_bytes=48 << 20, pool=pool, kind="DATADISK")
    info = await driver.prepare_volume(data, None)
    data = replace(data, path=info.path, device_id=1)
    await driver.attach_volume(vid, data)
    out = await _shell(driver, vid, "cat /proc/partitions", b"vdb")
    assert b"vdb" in out

    assert (await driver.stop_instance(vid, force=True)).state == PowerState.STOPPED
    snap = await driver.snapshot_volume(data, "s1")
    assert Path(snap.path).exists()
    subprocess.run(["qemu-img", "resize", "-q", "-f", "qcow2", data.path, str(96 << 20)], check=True)
    await driver.revert_volume_snapshot(data, snap)
    reverted = subprocess.run(["qemu-img", "info", "--output=json", data.path], capture_output=True, check=True)
    assert f'"virtual-size": {48 << 20}'.encode() in reverted.stdout
    await driver.delete_volume_snapshot(data, snap)
    assert not Path(snap.path).exists()

    await driver.destroy_instance(vid)
    with pytest.raises(InstanceNotFound):
        await driver.get_instance(vid)
    for vol in (spec.volumes[0], data):
        await driver.delete_volume(vol)
        assert not Path(vol.path).exists()


async def test_power_off_behind_the_drivers_back(driver, pool, template, bridge) -> None:  # noqa: ANN001
    spec = await _define(driver, pool, template, bridge)
    await driver.start_instance(spec.uuid)
    events = driver.events()
    waiter = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0.5)
    subprocess.run(["virsh", "-c", "qemu:///system", "destroy", spec.name], check=True, capture_output=True)
    try:
        while True:
            event = await asyncio.wait_for(waiter, 60)
            if event.uuid == spec.uuid and event.state == PowerState.STOPPED:
                break
            waiter = asyncio.ensure_future(anext(events))
    finally:
        await events.aclose()
    assert (await driver.get_instance(spec.uuid)).state == PowerState.STOPPED
    await driver.destroy_instance(spec.uuid)
    await driver.delete_volume(spec.volumes[0])


async def test_template_that_is_not_a_disk_defines_nothing(driver, pool, tmp_path) -> None:  # noqa: ANN001
    bogus = tmp_path / "notes.qcow2"
    bogus.write_text("this is not a disk image\n" * 100)
    tmpl = TemplateSpec(uuid=f"bogus-{uuid.uuid4().hex[:6]}", name="bogus", url=str(bogus))
    before = {i.uuid for i in await driver.list_instances()}
    vol = VolumeSpec(uuid=str(uuid.uuid4()), name="ROOT", size_bytes=64 << 20, pool=pool)
    with pytest.raises(InvalidSpec):
        await driver.prepare_volume(vol, tmpl)
    assert {i.uuid for i in await driver.list_instances()} == before
    assert list(Path(pool.path).iterdir()) == []
