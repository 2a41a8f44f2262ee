"""deleteStoragePool on a real libvirtd: the libvirt pool virga defined is stopped and undefined, files stay."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select
from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.models import Host, StoragePool
from virga.services.specs import pool_spec

from tests.factories import Cloud
from tests.libvirt import support

pytestmark = [pytest.mark.integration]


def _all_pools() -> set[str]:
    """Names of every libvirt pool on qemu:///system, active or not (virsh pool-list --all)."""
    out = subprocess.run(
        ["virsh", "-c", "qemu:///system", "pool-list", "--all", "--name"], capture_output=True, text=True, check=True
    ).stdout
    return {line.strip() for line in out.splitlines() if line.strip()}


@pytest.fixture
def pool_dir(daemons: None) -> Iterator[tuple[str, Path]]:
    """A pool name and directory; whatever the test leaves (libvirt pool, files) is removed afterwards."""
    tag = uuid.uuid4().hex[:8]
    path = Path(tempfile.mkdtemp(prefix=f"virga-relpool-{tag}-", dir="/var/tmp"))
    os.chmod(path, 0o755)
    name = f"virga-rel-{tag}"
    yield name, path
    support.drop_pool(name, path)
    shutil.rmtree(path, ignore_errors=True)


async def _kvm_pool(app: VirgaApp, admin: VirgaClient, cloud: Cloud, name: str, path: Path) -> tuple[str, Host]:
    """A KVM cluster with the qemu:///system host and a directory pool, through the API; (pool id, host row)."""
    cluster = (
        await admin.call(
            "addCluster",
            zoneid=cloud.zone,
            podid=cloud.pod,
            hypervisor="KVM",
            clustername=f"kvm-{name}",
            clustertype="CloudManaged",
        )
    )["cluster"][0]
    host = (
        await admin.call(
            "addHost",
            zoneid=cloud.zone,
            podid=cloud.pod,
            clusterid=cluster["id"],
            hypervisor="KVM",
            url="qemu:///system",
        )
    )["host"][0]
    pool = (
        await admin.call(
            "createStoragePool",
            zoneid=cloud.zone,
            podid=cloud.pod,
            clusterid=cluster["id"],
            name=name,
            url=f"file://{path}",
        )
    )["storagepool"]
    with app.db.session() as s:
        return pool["id"], s.exec(select(Host).where(Host.uuid == host["id"])).one()


async def test_delete_storage_pool_undefines_the_libvirt_pool(
    app: VirgaApp, admin: VirgaClient, cloud: Cloud, pool_dir: tuple[str, Path]
) -> None:
    name, path = pool_dir
    pool_id, host = await _kvm_pool(app, admin, cloud, name, path)
    with app.db.session() as s:
        spec = pool_spec(s.exec(select(StoragePool).where(StoragePool.uuid == pool_id)).one())
    drv = await app.hosts.driver(host)
    await drv.pool_stats(spec)  # the host sets the pool up on first use, as when a volume is made there
    assert name in _all_pools()
    (path / "kept.qcow2").write_bytes(b"data virga does not own")

    assert (await admin.call("deleteStoragePool", id=pool_id))["success"] is True

    assert name not in _all_pools()
    assert (path / "kept.qcow2").read_bytes() == b"data virga does not own"
    assert not await admin.list("listStoragePools", "storagepool", id=pool_id)


async def test_a_foreign_pool_of_the_same_name_is_left_alone(
    app: VirgaApp, admin: VirgaClient, cloud: Cloud, pool_dir: tuple[str, Path]
) -> None:
    """A libvirt pool virga did not define (another uuid, another directory) survives the delete."""
    name, path = pool_dir
    other = path / "elsewhere"
    other.mkdir()
    xml = f"<pool type='dir'><name>{name}</name><target><path>{other}</path></target></pool>"
    (path / "pool.xml").write_text(xml)
    subprocess.run(
        ["virsh", "-c", "qemu:///system", "pool-define", str(path / "pool.xml")], check=True, capture_output=True
    )
    pool_id, _host = await _kvm_pool(app, admin, cloud, name, path)
    assert (await admin.call("deleteStoragePool", id=pool_id))["success"] is True
    assert name in _all_pools()


async def test_a_pool_without_uuid_is_matched_by_name_and_path(tmp_path: Path) -> None:
    """Pools whose id is no UUID are defined by name: released only when the directory matches too."""
    libvirt = pytest.importorskip("libvirt")
    from virga.drivers.base import HostConnection, PoolSpec
    from virga.drivers.libvirt import LibvirtDriver

    drv = LibvirtDriver(HostConnection(url="test:///default"))
    await drv.connect()
    try:
        mine = PoolSpec(uuid="pool-7", name="named-pool", kind="dir", url=f"file://{tmp_path}", path=str(tmp_path))
        await drv.pool_stats(mine)  # defines it
        moved = PoolSpec(uuid="pool-7", name="named-pool", kind="dir", url="file:///elsewhere", path="/elsewhere")
        await drv.release_pool(moved)  # same name, another directory: not the pool virga defined
        assert "named-pool" in {p.name() for p in drv.virt.listAllStoragePools()}
        await drv.release_pool(mine)
        with pytest.raises(libvirt.libvirtError):
            drv.virt.storagePoolLookupByName("named-pool")
    finally:
        await drv.close()
