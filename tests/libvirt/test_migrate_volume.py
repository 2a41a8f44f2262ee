"""migrate_volume on a real libvirtd + qemu-img: a stopped guest's disk moves to another pool, flattened."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import libvirt
import pytest
from virga.drivers.base import (
    HostConnection,
    InstanceSpec,
    InvalidSpec,
    NotSupported,
    PoolSpec,
    PowerState,
    TemplateSpec,
    VolumeSpec,
)

from tests.libvirt import support

pytestmark = [pytest.mark.integration]
PATTERN = 0x5A  # written at the template's first MiB, read back from the moved disk


def _qemu_img(*args: str) -> str:
    """Run qemu-img and return its output."""
    return subprocess.run(["qemu-img", *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def second_pool(daemons: None) -> Iterator[PoolSpec]:
    """Another fresh directory pool (the target of the moves), removed afterwards."""
    tag = uuid.uuid4().hex[:8]
    path = Path(tempfile.mkdtemp(prefix=f"virga-pool2-{tag}-", dir="/var/tmp"))
    os.chmod(path, 0o755)
    spec = PoolSpec(uuid=str(uuid.uuid4()), name=f"virga-test2-{tag}", kind="dir", url=f"file://{path}", path=str(path))
    yield spec
    support.drop_pool(spec.name, path)


@pytest.fixture
async def driver(daemons: None, tmp_path: Path) -> AsyncIterator[object]:
    """A LibvirtDriver on qemu:///system with TCG guests (they only hold their disk open; no KVM quirks)."""
    from virga.drivers.libvirt import LibvirtDriver

    tmp_path.chmod(0o755)
    options = {"domain_type": "qemu", "shutdown_timeout": "5", "console_log_dir": str(tmp_path)}
    d = LibvirtDriver(HostConnection(url="qemu:///system", options=options))
    await d.connect()
    d.created = []  # type: ignore[attr-defined]
    yield d
    for vid in d.created:  # type: ignore[attr-defined]
        try:
            await d.destroy_instance(vid)
        except Exception:  # noqa: BLE001 - best-effort cleanup
            pass
    await d.close()


@pytest.fixture
def patterned_template(daemons: None, tmp_path: Path) -> TemplateSpec:
    """A standalone qcow2 template whose first MiB holds a byte pattern."""
    tmp_path.chmod(0o755)
    path = tmp_path / "patterned.qcow2"
    _qemu_img("create", "-q", "-f", "qcow2", str(path), str(64 << 20))
    subprocess.run(
        ["qemu-io", "-f", "qcow2", "-c", f"write -P {PATTERN} 0 1M", str(path)], check=True, capture_output=True
    )
    return TemplateSpec(uuid=f"pattern-{uuid.uuid4().hex[:8]}", name="patterned", url=f"file://{path}")


async def _define(driver, pool: PoolSpec, template: TemplateSpec) -> InstanceSpec:  # noqa: ANN001
    """A root overlay on the template's base in the pool and a stopped guest (no NIC) using it."""
    vol = VolumeSpec(uuid=str(uuid.uuid4()), name="ROOT", size_bytes=64 << 20, pool=pool)
    info = await driver.prepare_volume(vol, template)
    vid = str(uuid.uuid4())
    spec = InstanceSpec(
        uuid=vid,
        name=f"virga-mv-{vid[:8]}",
        display_name="mv",
        cpus=1,
        cpu_mhz=1000,
        memory_mb=64,
        volumes=(replace(vol, path=info.path),),
    )
    await driver.create_instance(spec)
    driver.created.append(vid)
    return spec


def _disk_sources(uuid_: str) -> list[str]:
    """The source files of a domain's disks, from its persistent definition."""
    conn = libvirt.open("qemu:///system")
    try:
        xml = conn.lookupByUUIDString(uuid_).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    finally:
        conn.close()
    return [s.get("file", "") for s in ET.fromstring(xml).iterfind("./devices/disk/source")]


async def test_stopped_guest_root_moves_flattened(driver, pool, second_pool, patterned_template) -> None:  # noqa: ANN001
    """The copy is a standalone qcow2 in the target pool with the same content; the guest starts from it."""
    spec = await _define(driver, pool, patterned_template)
    root = spec.volumes[0]
    assert json.loads(_qemu_img("info", "--output=json", root.path)).get("backing-filename")  # an overlay
    moved = await driver.migrate_volume(root, second_pool)
    assert Path(moved.path).parent == Path(second_pool.path) and moved.size_bytes == 64 << 20
    assert not Path(root.path).exists()
    info = json.loads(_qemu_img("info", "--output=json", moved.path))
    assert info["format"] == "qcow2" and "backing-filename" not in info
    template_file = patterned_template.url.removeprefix("file://")
    assert "identical" in _qemu_img("compare", "-f", "qcow2", "-F", "qcow2", template_file, moved.path)
    assert _disk_sources(spec.uuid) == [moved.path]
    assert (await driver.start_instance(spec.uuid)).state == PowerState.RUNNING
    await driver.destroy_instance(spec.uuid)
    await driver.delete_volume(replace(root, pool=second_pool, path=moved.path))
    assert not Path(moved.path).exists()


async def test_running_guest_disk_is_refused(driver, pool, second_pool, patterned_template) -> None:  # noqa: ANN001
    """A disk a running guest uses stays where it is (NotSupported); the same pool or a missing disk is InvalidSpec."""
    spec = await _define(driver, pool, patterned_template)
    root = spec.volumes[0]
    await driver.start_instance(spec.uuid)
    with pytest.raises(NotSupported, match="running instance"):
        await driver.migrate_volume(root, second_pool)
    assert Path(root.path).exists() and _disk_sources(spec.uuid) == [root.path]
    assert not [p for p in Path(second_pool.path).iterdir() if p.name.startswith(root.uuid)]
    await driver.stop_instance(spec.uuid, force=True)
    with pytest.raises(InvalidSpec, match="already on pool"):
        await driver.migrate_volume(root, pool)
    await driver.destroy_instance(spec.uuid)
    await driver.delete_volume(root)
    with pytest.raises(InvalidSpec, match="does not exist"):
        await driver.migrate_volume(root, second_pool)
