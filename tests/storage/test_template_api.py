"""registerTemplate through the API onto a real NFS store (ganesha) from a local HTTP server, then a guest.

The guest is deployed through the API too (deployVirtualMachine on a qemu:///system host in the zone holding
the store) and its login line is read on its serial console through createConsoleEndpoint + /client/console.

Also: a management-server restart in the middle of a download resumes it with an HTTP Range request.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
from pathlib import Path

import pytest
from sqlmodel import select
from virga.api.server import make_asgi
from virga.client import VirgaClient
from virga.config import Settings
from virga.core import VirgaApp
from virga.models import Template, Volume

from tests.factories import Cloud
from tests.libvirt.apizone import KvmSite, kvm_site
from tests.libvirt.support import LOGIN, delete_bridge
from tests.storage.conftest import NfsFixture
from tests.storage.httpserver import FileServer
from tests.storage.kvmzone import build, console_until, domain_uuids, drop_domain

pytestmark = [pytest.mark.integration]
RATE = 3_000_000  # bytes/s: slow enough to watch the progress
BOOT = 240.0


def _serve(http: FileServer, image: Path) -> tuple[str, str]:
    """Put the image on the HTTP server; (its throttled URL, its sha256)."""
    shutil.copy(image, Path(http.root) / "tiny.qcow2")
    return f"{http.base_url}/tiny.qcow2?rate={RATE}", hashlib.sha256(image.read_bytes()).hexdigest()


async def _register(admin: VirgaClient, zone: str, url: str, sha: str) -> str:
    """registerTemplate; the new template's id."""
    body = await admin.call(
        "registerTemplate",
        name="tiny-nfs",
        displaytext="tiny",
        url=url,
        zoneid=zone,
        format="QCOW2",
        hypervisor="KVM",
        checksum="{SHA-256}" + sha,
    )
    return str(body["template"][0]["id"])


async def _watch(admin: VirgaClient, tid: str, seen: list[str], timeout: float = 180) -> dict:
    """Poll listTemplates until the template is ready or failed, recording every status."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        (t,) = await admin.list("listTemplates", "template", templatefilter="self", id=tid)
        if not seen or seen[-1] != t.get("status"):
            seen.append(t.get("status", ""))
        if t["isready"] or t.get("status", "").startswith("Download Failed"):
            return t
        await asyncio.sleep(0.1)
    raise AssertionError(f"download did not finish; statuses {seen}")


def _partial(seen: list[str]) -> list[int]:
    """Percentages strictly between 0 and 100 among 'NN% Downloaded' statuses."""
    return [int(m[1]) for s in seen if (m := re.fullmatch(r"(\d+)% Downloaded", s or "")) and 0 < int(m[1]) < 100]


async def _nfs_store_for(admin: VirgaClient, zone: str, url: str) -> None:
    """Make the ganesha export the zone's only image store: addImageStore, then drop the simulated one."""
    ours = (await admin.call("addImageStore", provider="NFS", name="ganesha", url=url, zoneid=zone))["imagestore"]
    for st in await admin.list("listImageStores", "imagestore", zoneid=zone):
        if st["id"] != ours["id"]:
            await admin.call("deleteImageStore", id=st["id"])
    assert [st["url"] for st in await admin.list("listImageStores", "imagestore", zoneid=zone)] == [url]


async def _deploy(admin: VirgaClient, site: KvmSite, zone: str, template: str) -> dict:
    """deployVirtualMachine from the downloaded template on the KVM host; the job's VM."""
    return (
        await admin.run(
            "deployVirtualMachine",
            zoneid=zone,
            templateid=template,
            serviceofferingid=site.offering,
            networkids=site.network,
            hostid=site.host,
            name="nfs-guest",
        )
    )["virtualmachine"]


async def _cleanup(admin: VirgaClient, vm_id: str | None, bridge: str) -> None:
    """After a failure: expunge the VM (through the API, then straight in libvirt) and delete the bridge."""
    if vm_id is not None:
        try:
            await admin.run("destroyVirtualMachine", id=vm_id, expunge=True)
        except Exception:  # noqa: BLE001 - best effort; libvirt is cleaned below
            pass
        drop_domain(vm_id)
    delete_bridge(bridge)


@pytest.mark.slow
async def test_register_progress_nfs_then_boot(  # noqa: PLR0913
    app: VirgaApp,
    admin: VirgaClient,
    cloud: Cloud,
    nfs: NfsFixture,
    http: FileServer,
    guest_image: Path,
    kvm_pool: tuple[str, Path],
    tmp_path: Path,
) -> None:
    pool_dir = kvm_pool[1]
    site = await kvm_site(app, admin, cloud, guest_image, pool_dir)
    vm_id: str | None = None
    try:
        await _nfs_store_for(admin, cloud.zone, nfs.url)
        url, sha = _serve(http, guest_image)
        tid = await _register(admin, cloud.zone, url, sha)
        seen: list[str] = []
        t = await _watch(admin, tid, seen)
        assert t["isready"] and t["status"] == "Download Complete", seen
        assert _partial(seen), f"no progress observed: {seen}"

        with app.db.session() as s:
            install = s.exec(select(Template).where(Template.uuid == tid)).one().install_path or ""
        assert install.startswith(nfs.url + "/template/tmpl/")
        back = tmp_path / "back.qcow2"
        await nfs.store.get_file(install.removeprefix(nfs.url + "/"), str(back))  # read back through libnfs
        assert hashlib.sha256(back.read_bytes()).hexdigest() == sha

        vm = await _deploy(admin, site, cloud.zone, tid)
        vm_id = vm["id"]
        assert vm["state"] == "Running" and vm["hypervisor"] == "KVM" and vm["templateid"] == tid
        (root,) = await admin.list("listVolumes", "volume", virtualmachineid=vm_id, type="ROOT")
        with app.db.session() as s:
            root_path = s.exec(select(Volume).where(Volume.uuid == root["id"])).one().path or ""
        assert Path(root_path).parent == pool_dir and Path(root_path).exists()
        assert (pool_dir / f"virga-template-{tid}.qcow2").exists()  # copied to the primary pool on first use
        assert LOGIN in await console_until(admin, vm_id, LOGIN, BOOT)

        await admin.run("destroyVirtualMachine", id=vm_id, expunge=True)
        assert vm_id not in domain_uuids()
        assert not Path(root_path).exists()
        assert [p.name for p in pool_dir.iterdir() if not p.name.startswith("virga-template-")] == []
        vm_id = None
    finally:
        await _cleanup(admin, vm_id, site.bridge)


async def test_restart_during_download_resumes(
    app: VirgaApp, admin: VirgaClient, nfs: NfsFixture, http: FileServer, tmp_path: Path
) -> None:
    from tests.storage.conftest import make_qcow2

    kz = build(app, nfs.url, f"virga-rst-{tmp_path.name[-8:]}", tmp_path)
    image = make_qcow2(tmp_path / "img.qcow2", size="32M", length="12M")
    url, sha = _serve(http, image)
    tid = await _register(admin, kz.zone, url, sha)
    loop = asyncio.get_running_loop()
    end = loop.time() + 60
    while not _partial(
        [(await admin.list("listTemplates", "template", templatefilter="self", id=tid))[0].get("status", "")]
    ):
        assert loop.time() < end, "the download never started"
        await asyncio.sleep(0.05)
    await app.stop()  # the management server goes away mid-download

    second = VirgaApp(Settings(db_url=app.settings.db_url, workers=4, sync_interval=3600))
    await second.start()
    try:
        client = VirgaClient(asgi=make_asgi(second, manage=False), creds=admin.creds)
        seen: list[str] = []
        t = await _watch(client, tid, seen)
        await client.close()
    finally:
        await second.stop()
        await app.start()  # the fixture stops it again
    assert t["isready"] and t["status"] == "Download Complete", seen
    assert any(path == "/tiny.qcow2" and rng and rng != "bytes=0-" for path, rng in http.requests), http.requests
    stored = list(nfs.export.glob(f"template/tmpl/*/*/{tid}.qcow2"))
    assert len(stored) == 1 and hashlib.sha256(stored[0].read_bytes()).hexdigest() == sha
