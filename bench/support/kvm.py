"""This machine's libvirt/QEMU as a KVM host: the daemons, the tiny guest, bridges, pools, and a KVM
cluster (qemu:///system) added through the API beside a simulator cloud. Used by bench/boot.py and
tests/libvirt (and the storage tests' KVM zone)."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import select
from virga.cli import guestimage
from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.models import Account, Network, NetworkOffering, ServiceOffering, Template, VirtualMachine, Zone, utcnow
from virga.services.specs import bridge_of

from bench.support.cloud import Cloud

LOGIN = b"virga-tiny login: ready"


def running(name: str) -> bool:
    """Whether a process with exactly this name runs."""
    return subprocess.run(["pgrep", "-x", name], capture_output=True).returncode == 0


def fix_kvm_device(dev: str = "/dev/kvm") -> None:
    """Give /dev/kvm its usual group and mode (root:kvm 0660, as udev sets it) when it lost them.

    Otherwise libvirt re-probes QEMU on every call (seconds each): group not kvm, or group kvm without
    read/write, which also makes libvirt offer kvm domains that the QEMU user then cannot open.
    """
    from virga.drivers.libvirt.host import kvm_device_problem

    if kvm_device_problem(dev):
        subprocess.run(["chgrp", "kvm", dev], check=False)
    if os.path.exists(dev) and os.stat(dev).st_mode & 0o060 != 0o060:
        os.chmod(dev, os.stat(dev).st_mode | 0o060)


def start_daemons() -> list[str]:
    """Start virtlogd and libvirtd when not running; return the names started here."""
    fix_kvm_device()
    started = []
    for name in ("virtlogd", "libvirtd"):
        if not running(name):
            subprocess.run([name, "-d"], check=True)
            started.append(name)
    for attempt in range(60):
        probe = subprocess.run(["virsh", "-c", "qemu:///system", "version"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            break
        if attempt == 59:
            raise RuntimeError(f"libvirtd did not answer: {probe.stderr.decode(errors='replace')}")
        time.sleep(0.5)
    return started


def build_guest() -> Path:
    """The tiny guest template, built once per build-script hash into the cache."""
    return guestimage.ensure()


def make_bridge() -> str:
    """An isolated Linux bridge (no address, no uplink) for test guests."""
    name = f"vgt{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "link", "add", name, "type", "bridge"], check=True)
    subprocess.run(["ip", "link", "set", name, "up"], check=True)
    return name


def delete_bridge(name: str) -> None:
    """Remove a test bridge."""
    subprocess.run(["ip", "link", "del", name], check=False, capture_output=True)


def drop_pool(name: str, path: Path) -> None:
    """Destroy and undefine a test pool, then remove its directory."""
    subprocess.run(["virsh", "-c", "qemu:///system", "pool-destroy", name], capture_output=True)
    subprocess.run(["virsh", "-c", "qemu:///system", "pool-undefine", name], capture_output=True)
    shutil.rmtree(path, ignore_errors=True)


@dataclass
class KvmSite:
    """What a test needs to deploy real guests through the API."""

    host: str
    pool: str
    template: str
    network: str
    bridge: str
    offering: str


def _template(app: VirgaApp, image: Path, zone_id: int) -> str:
    """The tiny guest as a ready KVM template (straight in the database, like bench.support.cloud)."""
    with app.db.session() as s:
        admin = s.exec(select(Account).where(Account.name == "admin")).one()
        t = Template(
            name="virga-tiny",
            displaytext="virga tiny guest",
            hypervisor="KVM",
            format="QCOW2",
            url=f"file://{image}",
            install_path=f"file://{image}",
            isready=True,
            status="Download Complete",
            size=image.stat().st_size,
            ispublic=True,
            isfeatured=True,
            account_id=admin.id or 0,
            domain_id=admin.domain_id,
            templatetype="USER",
        )
        s.add(t)
        s.flush()
        # instance names are i-<account>-<vm id>-VM: start this database's VM ids at a random high number so
        # guests of parallel test runs (other databases, same libvirtd) do not clash
        off = s.exec(select(ServiceOffering)).first()
        s.add(
            VirtualMachine(
                id=random.randint(100000, 999999),
                name="id-placeholder",
                account_id=admin.id or 0,
                domain_id=admin.domain_id,
                zone_id=zone_id,
                template_id=t.id or 0,
                serviceoffering_id=off.id if off else 0,
                state="Expunging",
                removed=utcnow(),
            )
        )
        s.commit()
        return t.uuid


def _network(app: VirgaApp, zone_uuid: str) -> tuple[str, str, int]:
    """An isolated network with a random high id, so its bridge name does not clash with other tests."""
    with app.db.session() as s:
        zone = s.exec(select(Zone).where(Zone.uuid == zone_uuid)).one()
        acct = s.exec(select(Account).where(Account.name == "admin")).one()
        off = s.exec(
            select(NetworkOffering).where(NetworkOffering.name == "DefaultIsolatedNetworkOfferingWithSourceNatService")
        ).one()
        net = Network(
            id=random.randint(60000, 99999),
            name="kvm-net",
            zone_id=zone.id or 0,
            networkoffering_id=off.id or 0,
            cidr="10.77.1.0/24",
            gateway="10.77.1.1",
            netmask="255.255.255.0",
            account_id=acct.id or 0,
            domain_id=acct.domain_id,
            networkdomain="cloud.internal",
        )
        s.add(net)
        s.commit()
        return net.uuid, bridge_of(net), zone.id or 0


def pool_name(pool_dir: Path) -> str:
    """The primary pool's name (and so its libvirt pool's name) for a pool directory."""
    return f"kvm-pool-{pool_dir.name[-6:]}"


async def kvm_site(app: VirgaApp, admin: VirgaClient, cloud: Cloud, image: Path, pool_dir: Path) -> KvmSite:
    """Add a KVM cluster + host (qemu:///system) + directory pool, the template, a network and its bridge."""
    cluster = (
        await admin.call(
            "addCluster",
            zoneid=cloud.zone,
            podid=cloud.pod,
            hypervisor="KVM",
            clustername=f"kvm-{pool_dir.name[-6:]}",
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
            name=pool_name(pool_dir),
            url=f"file://{pool_dir}",
            scope="CLUSTER",
        )
    )["storagepool"]
    net, bridge, zone_id = _network(app, cloud.zone)
    subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], check=True)
    subprocess.run(["ip", "link", "set", bridge, "up"], check=True)
    small = (await admin.list("listServiceOfferings", "serviceoffering", name="Small Instance"))[0]
    return KvmSite(
        host=host["id"],
        pool=pool["id"],
        template=_template(app, image, zone_id),
        network=net,
        bridge=bridge,
        offering=small["id"],
    )
