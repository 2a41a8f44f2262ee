"""A KVM zone built in the database (qemu:///system host, directory pool, real NFS store); guest helpers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import select
from virga.cli.console import AsgiChannel
from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.models import Account, Cluster, Host, ImageStore, Pod, StoragePool, Volume, Zone

from tests.libvirt import support
from tests.libvirt.apizone import pool_name


@dataclass
class KvmZone:
    """Ids and paths of the zone's parts."""

    zone: str
    zone_id: int
    pool_id: int
    pool_path: Path
    pool_name: str
    store_url: str


@contextmanager
def libvirt_pool() -> Iterator[tuple[str, Path]]:
    """A fresh directory for a libvirt pool (name, path); the pool and its files are removed afterwards."""
    tag = uuid.uuid4().hex[:8]
    path = Path(tempfile.mkdtemp(prefix=f"virga-spool-{tag}-", dir="/var/tmp"))
    os.chmod(path, 0o755)
    name = f"virga-stest-{tag}"
    try:
        yield name, path
    finally:
        support.drop_pool(pool_name(path), path)  # the pool apizone.kvm_site's createStoragePool made here
        support.drop_pool(name, path)


def build(app: VirgaApp, store_url: str, pool_name: str, pool_path: Path) -> KvmZone:
    """Zone > pod > KVM cluster > qemu:///system host, a directory pool and the NFS image store."""
    with app.db.session() as s:
        zone = Zone(name=f"kvm-{pool_name[-8:]}", dns1="10.0.0.2", internaldns1="10.0.0.2", allocationstate="Enabled")
        s.add(zone)
        s.flush()
        pod = Pod(name="pod-k", zone_id=zone.id or 0, gateway="172.16.1.1", netmask="255.255.255.0")
        s.add(pod)
        s.flush()
        cl = Cluster(name="kvm-cluster", zone_id=zone.id or 0, pod_id=pod.id or 0, hypervisor="KVM")
        s.add(cl)
        s.flush()
        s.add(
            Host(
                name="kvm-local",
                zone_id=zone.id or 0,
                pod_id=pod.id or 0,
                cluster_id=cl.id or 0,
                url="qemu:///system",
                state="Up",
                cpunumber=2,
                cpuspeed=1000,
                memorytotal=2 * 2**30,
                hypervisor="KVM",
            )
        )
        pool = StoragePool(
            name=pool_name,
            zone_id=zone.id or 0,
            pod_id=pod.id,
            cluster_id=cl.id,
            type="Filesystem",
            url=f"file://{pool_path}",
            path=str(pool_path),
            capacitybytes=2**34,
            hypervisor="KVM",
        )
        s.add(pool)
        s.add(ImageStore(name="nfs-store", zone_id=zone.id, url=store_url))
        s.commit()
        return KvmZone(zone.uuid, zone.id or 0, pool.id or 0, pool_path, pool_name, store_url)


async def console_until(admin: VirgaClient, vm_id: str, pattern: bytes, timeout: float) -> bytes:
    """A VM's serial console through createConsoleEndpoint and /client/console, read until the pattern shows."""
    ep = (await admin.call("createConsoleEndpoint", virtualmachineid=vm_id))["consoleendpoint"]
    ws = ep["websocket"]
    chan = await AsgiChannel(admin._asgi, ws["path"], f"token={ws['token']}").connect()  # noqa: SLF001
    seen = bytearray()
    end = asyncio.get_running_loop().time() + timeout
    try:
        while pattern not in seen:
            left = end - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"{pattern!r} not on the console of {vm_id}; last bytes {bytes(seen[-300:])!r}")
            try:
                frame = await asyncio.wait_for(chan.recv(), left)
            except TimeoutError:
                continue
            if not frame:
                raise AssertionError(f"console of {vm_id} closed ({chan.close_reason}); got {bytes(seen[-300:])!r}")
            seen += frame
    finally:
        await chan.close()
    return bytes(seen)


def drop_domain(uuid: str) -> None:
    """Best-effort removal of a libvirt domain left by a failed test (by uuid)."""
    for cmd in (["destroy", uuid], ["undefine", "--nvram", uuid]):
        subprocess.run(["virsh", "-c", "qemu:///system", *cmd], capture_output=True, check=False)


def domain_uuids() -> set[str]:
    """The uuids of every libvirt domain on qemu:///system."""
    out = subprocess.run(
        ["virsh", "-c", "qemu:///system", "list", "--all", "--uuid"], capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


def data_volume(app: VirgaApp, kz: KvmZone, name: str, size: int = 16 << 20) -> str:
    """A Ready DATADISK row whose qcow2 file exists in the pool (made with qemu-img); returns its uuid."""
    with app.db.session() as s:
        admin = s.exec(select(Account).where(Account.name == "admin")).one()
        vol = Volume(
            name=name,
            zone_id=kz.zone_id,
            pool_id=kz.pool_id,
            size=size,
            state="Ready",
            account_id=admin.id or 0,
            domain_id=admin.domain_id,
        )
        s.add(vol)
        s.flush()
        vol.path = str(kz.pool_path / f"{vol.uuid}.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", vol.path, str(size)], check=True)
        subprocess.run(["virsh", "-c", "qemu:///system", "pool-refresh", kz.pool_name], capture_output=True)
        s.add(vol)
        s.commit()
        return vol.uuid


def write(path: str, pattern: int, length: str = "1M") -> None:
    """Write a byte pattern at the start of a qcow2 file (qemu-io)."""
    subprocess.run(
        ["qemu-io", "-f", "qcow2", "-c", f"write -P {pattern} 0 {length}", path], check=True, capture_output=True
    )


def holds(path: str, pattern: int, length: str = "1M", fmt: str = "qcow2") -> bool:
    """Whether the start of an image (local path or nfs:// URL) reads back as the pattern."""
    proc = subprocess.run(
        ["qemu-io", "-f", fmt, "-r", "-c", f"read -P {pattern} 0 {length}", path], capture_output=True, text=True
    )
    return proc.returncode == 0 and "Pattern verification failed" not in proc.stdout
