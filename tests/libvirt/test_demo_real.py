"""`virga demo --real` end to end: a zone on this machine's libvirt, the tiny guest, 2 guests that boot.

The demo runs as a subprocess with its own data and config directories, like a user would run it;
the checks read its database through the API (embedded, same files) and the guests' serial logs.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select
from virga.appliance.router.apply import RouterManager
from virga.appliance.storage.localnfs import LocalNfs
from virga.cli import embedded
from virga.cli.real.build import ZONE, public_bridge
from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.models import Account, Host, Network, NetworkOffering, Template, VirtualMachine, Zone, utcnow
from virga.services.routing import state_dir

from tests.libvirt import support
from tests.libvirt.conftest import daemons, guest_image  # noqa: F401  (fixtures)
from tests.libvirt.poolcleanup import kvm_pool_specs, release_pools

pytestmark = [pytest.mark.integration, pytest.mark.slow]
BOOT_S = 600.0  # TCG guests on a loaded 2-core machine
LOG_DIR = Path("/var/log/libvirt/qemu")


@dataclass
class Sandbox:
    """The demo's directories and the environment that points virga at them."""

    root: Path
    env: dict[str, str]


def _seed(app: VirgaApp) -> None:
    """Removed placeholder rows with random high ids, so this database's guests (i-2-<id>-VM) and guest
    bridges (vg<id>) do not clash with other test runs on the same libvirtd."""
    with app.db.session() as s:
        admin = s.exec(select(Account).where(Account.name == "admin")).one()
        owner = {"account_id": admin.id or 0, "domain_id": admin.domain_id}
        zone = Zone(name="offset", removed=utcnow())
        s.add(zone)
        s.flush()
        off = s.exec(select(NetworkOffering)).first()
        assert off is not None
        s.add(
            Network(
                id=random.randint(20000, 99999),
                name="offset",
                zone_id=zone.id or 0,
                networkoffering_id=off.id or 0,
                removed=utcnow(),
                **owner,
            )
        )
        tmpl = Template(name="offset", displaytext="offset", removed=utcnow(), **owner)
        s.add(tmpl)
        s.flush()
        s.add(
            VirtualMachine(
                id=random.randint(100000, 999999),
                name="offset",
                zone_id=zone.id or 0,
                template_id=tmpl.id or 0,
                serviceoffering_id=1,
                state="Expunging",
                removed=utcnow(),
                **owner,
            )
        )
        s.commit()


def virga(sb: Sandbox, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    """Run the virga CLI in the sandbox's directories."""
    return subprocess.run(
        [sys.executable, "-m", "virga.cli.main", *args], env=sb.env, capture_output=True, text=True, timeout=timeout
    )


async def _hard_cleanup(root: Path) -> None:
    """Whatever `--destroy` left: domains, routers, the NFS server, the pool and the public bridge."""
    async with api() as (app, _):
        with app.db.session() as s:
            names = [vm.instancename for vm in s.exec(select(VirtualMachine)) if vm.instancename]
        routers, pools = state_dir(app), kvm_pool_specs(app)
    for name in names:
        for verb in ("destroy", "undefine"):
            subprocess.run(["virsh", "-c", "qemu:///system", verb, name], capture_output=True)
    mgr = RouterManager(routers)
    for uuid_ in mgr.list_routers():
        mgr.destroy_sync(uuid_)
    mgr.hub.stop()
    await LocalNfs(root / "data" / "nfs").stop()
    await release_pools(pools)
    subprocess.run(["ip", "link", "del", public_bridge()], capture_output=True)


@asynccontextmanager
async def api() -> AsyncIterator[tuple[VirgaApp, VirgaClient]]:
    """The sandbox's database through the API (embedded; only while no demo process runs)."""
    async with embedded.embedded() as (app, client):
        yield app, client


@pytest.fixture
async def sandbox(daemons: None, guest_image: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Sandbox]:  # noqa: F811
    """Fresh data/config dirs (readable by QEMU) and a seeded database; everything removed afterwards."""
    for tool, pkg in (
        ("ganesha.nfsd", "nfs-ganesha nfs-ganesha-vfs"),
        ("rpcbind", "rpcbind"),
        ("dnsmasq", "dnsmasq-base"),
        ("nft", "nftables"),
    ):
        support.need(shutil.which(tool) is not None, f"{tool} not installed (apt {pkg})")
    root = Path(tempfile.mkdtemp(prefix="virga-demo-", dir="/var/tmp"))
    root.chmod(0o755)
    env = {
        **os.environ,
        "VIRGA_DATA_DIR": str(root / "data"),
        "VIRGA_CONFIG_DIR": str(root / "conf"),
        "VIRGA_GUEST_TEMPLATE": str(guest_image),
    }
    for key in ("VIRGA_DATA_DIR", "VIRGA_CONFIG_DIR", "VIRGA_GUEST_TEMPLATE"):
        monkeypatch.setenv(key, env[key])
    (root / "data").mkdir(mode=0o755)
    sb = Sandbox(root, env)
    try:
        async with api() as (app, _):
            _seed(app)
        yield sb
    finally:
        try:
            await asyncio.to_thread(virga, sb, "demo", "--real", "--destroy")
            await _hard_cleanup(root)
        finally:
            shutil.rmtree(root, ignore_errors=True)


async def _login_line(instancename: str, vm_name: str) -> str:
    """Wait for the guest's login line in its serial log (the driver's default console log dir)."""
    loop = asyncio.get_running_loop()
    end, log = loop.time() + BOOT_S, LOG_DIR / f"{instancename}.console.log"
    while loop.time() < end:
        text = log.read_bytes() if log.exists() else b""
        for line in text.splitlines():
            if line.startswith(support.LOGIN) and vm_name.encode() in line:
                return line.decode()
        await asyncio.sleep(1)
    raise AssertionError(f"no login line from {vm_name} in {log}: {log.read_bytes()[-400:] if log.exists() else ''}")


async def test_demo_real_builds_and_reuses(sandbox: Sandbox) -> None:
    sb = sandbox
    first = await asyncio.to_thread(virga, sb, "demo", "--real", "--no-tui")
    assert first.returncode == 0, first.stderr + first.stdout
    assert "virga console demo-real-1" in first.stdout
    async with api() as (app, admin):
        vms = await _check_built(sb, app, admin)
        pools = {p["name"] for p in await admin.list("listStoragePools", "storagepool")}
        assert pools and pools <= _libvirt_pools()
        for v in vms:
            line = await _login_line(v["instancename"], v["name"])
            assert v["nic"][0]["ipaddress"] in line  # DHCP from the virtual router gave the planned address

    again = await asyncio.to_thread(virga, sb, "demo", "--real", "--no-tui")
    assert again.returncode == 0, again.stderr + again.stdout
    assert "vm demo-real-1 running: reusing it" in again.stdout and "zone sandbox-kvm exists" in again.stdout
    async with api() as (_, admin):
        after = await admin.list("listVirtualMachines", "virtualmachine", listall=True)
        assert sorted(v["id"] for v in after) == sorted(v["id"] for v in vms)

    gone = await asyncio.to_thread(virga, sb, "demo", "--real", "--destroy")
    assert gone.returncode == 0, gone.stderr + gone.stdout
    async with api() as (_, admin):
        assert not await admin.list("listZones", "zone", name=ZONE)
    listed = subprocess.run(
        ["virsh", "-c", "qemu:///system", "list", "--all", "--name"], capture_output=True, text=True
    ).stdout.split()
    assert not {v["instancename"] for v in vms} & set(listed)
    assert not pools & _libvirt_pools()  # deleteStoragePool undefined the pool on the KVM host
    assert not LocalNfs(sb.root / "data" / "nfs").state()


def _libvirt_pools() -> set[str]:
    """Names of every libvirt pool on qemu:///system, active or not."""
    out = subprocess.run(
        ["virsh", "-c", "qemu:///system", "pool-list", "--all", "--name"], capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


async def _check_built(sb: Sandbox, app: VirgaApp, admin: VirgaClient) -> list[dict[str, Any]]:
    """The zone, its KVM host on qemu:///system, the ready template, the store and the 2 running guests."""
    (zone,) = await admin.list("listZones", "zone", name=ZONE)
    (host,) = await admin.list("listHosts", "host", zoneid=zone["id"], type="Routing")
    assert host["hypervisor"] == "KVM" and host["state"] == "Up"
    with app.db.session() as s:
        assert s.exec(select(Host).where(Host.uuid == host["id"])).one().url == "qemu:///system"
    (tmpl,) = await admin.list("listTemplates", "template", templatefilter="all", name="virga-tiny")
    assert tmpl["isready"] and tmpl["isfeatured"] and tmpl["hypervisor"] == "KVM"
    (store,) = await admin.list("listImageStores", "imagestore", zoneid=zone["id"])
    assert store["url"] == LocalNfs(sb.root / "data" / "nfs").state()["url"]

    vms = await admin.list("listVirtualMachines", "virtualmachine", zoneid=zone["id"], listall=True)
    assert sorted(v["name"] for v in vms) == ["demo-real-1", "demo-real-2"]
    assert all(v["state"] == "Running" and v["templateid"] == tmpl["id"] for v in vms)
    return vms


async def test_demo_real_failure_leaves_no_zone(sandbox: Sandbox) -> None:
    sb = sandbox
    bogus = sb.root / "not-a-disk.qcow2"
    bogus.write_text("this is not a disk image\n" * 100)
    sb.env["VIRGA_GUEST_TEMPLATE"] = str(bogus)
    out = await asyncio.to_thread(virga, sb, "demo", "--real", "--no-tui")
    assert out.returncode == 1
    assert "virga-tiny" in out.stderr and "undoing" in out.stdout
    async with api() as (_, admin):
        assert not await admin.list("listZones", "zone", name=ZONE)
        assert not await admin.list("listTemplates", "template", templatefilter="all", name="virga-tiny")
    assert not LocalNfs(sb.root / "data" / "nfs").state()  # the NFS server it started is stopped again
    assert subprocess.run(["ip", "link", "show", public_bridge()], capture_output=True).returncode != 0
