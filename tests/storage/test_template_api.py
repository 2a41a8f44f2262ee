"""registerTemplate through the API onto a real NFS store (ganesha) from a local HTTP server, then a guest.

Also: a management-server restart in the middle of a download resumes it with an HTTP Range request.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from sqlmodel import select
from virga.api.server import make_asgi
from virga.client import VirgaClient
from virga.config import Settings
from virga.core import VirgaApp
from virga.drivers.base import InstanceSpec, NicSpec, PoolSpec, VolumeSpec
from virga.models import Template
from virga.services.specs import template_spec

from tests.libvirt.support import LOGIN
from tests.storage.conftest import NfsFixture
from tests.storage.httpserver import FileServer
from tests.storage.kvmzone import build

pytestmark = [pytest.mark.integration]
RATE = 3_000_000  # bytes/s: slow enough to watch the progress
BOOT = 240.0


def _serve(http: FileServer, image: Path) -> tuple[str, str]:
    """Put the image on the HTTP server; (its throttled URL, its sha256)."""
    shutil.copy(image, Path(http.root) / "tiny.qcow2")
    return f"{http.base_url}/tiny.qcow2?rate={RATE}", hashlib.sha256(image.read_bytes()).hexdigest()


async def _register(admin: VirgaClient, zone: str, url: str, sha: str) -> str:
    """registerTemplate; the new template's id."""
    body = await admin.call("registerTemplate", name="tiny-nfs", displaytext="tiny", url=url, zoneid=zone,
                            format="QCOW2", hypervisor="KVM", checksum="{SHA-256}" + sha)
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


@pytest.mark.slow
async def test_register_progress_nfs_then_boot(  # noqa: PLR0913
    app: VirgaApp, admin: VirgaClient, nfs: NfsFixture, http: FileServer, guest_image: Path, driver,  # noqa: ANN001
    pool: PoolSpec, bridge: str, tmp_path: Path,
) -> None:
    kz = build(app, nfs.url, f"virga-reg-{tmp_path.name[-8:]}", tmp_path)
    url, sha = _serve(http, guest_image)
    tid = await _register(admin, kz.zone, url, sha)
    seen: list[str] = []
    t = await _watch(admin, tid, seen)
    assert t["isready"] and t["status"] == "Download Complete", seen
    assert _partial(seen), f"no progress observed: {seen}"

    with app.db.session() as s:
        row = s.exec(select(Template).where(Template.uuid == tid)).one()
        spec = template_spec(s, row)
    assert spec.url.startswith(nfs.url + "/template/tmpl/")
    back = tmp_path / "back.qcow2"
    await nfs.store.get_file(spec.url.removeprefix(nfs.url + "/"), str(back))  # read back through libnfs
    assert hashlib.sha256(back.read_bytes()).hexdigest() == sha

    vol = VolumeSpec(uuid=str(uuid.uuid4()), name="ROOT", size_bytes=64 << 20, pool=pool)
    info = await driver.prepare_volume(vol, spec)
    vid = str(uuid.uuid4())
    nic = NicSpec(uuid=str(uuid.uuid4()), mac="02:00:00:5e:00:01", ip=None, netmask=None, gateway=None,
                  network_uuid="n", bridge=bridge)
    await driver.create_instance(InstanceSpec(
        uuid=vid, name=f"virga-nfs-{vid[:8]}", display_name="nfs", cpus=1, cpu_mhz=1000, memory_mb=160,
        volumes=(replace(vol, path=info.path),), nics=(nic,), template=spec))
    driver.created.append(vid)
    console = await driver.start_with_console(vid)
    try:
        await console.wait_for(LOGIN, BOOT)
    finally:
        await console.close()


async def test_restart_during_download_resumes(app: VirgaApp, admin: VirgaClient, nfs: NfsFixture,
                                               http: FileServer, tmp_path: Path) -> None:
    from tests.storage.conftest import make_qcow2

    kz = build(app, nfs.url, f"virga-rst-{tmp_path.name[-8:]}", tmp_path)
    image = make_qcow2(tmp_path / "img.qcow2", size="32M", length="12M")
    url, sha = _serve(http, image)
    tid = await _register(admin, kz.zone, url, sha)
    loop = asyncio.get_running_loop()
    end = loop.time() + 60
    while not _partial([(await admin.list("listTemplates", "template", templatefilter="self",
                                          id=tid))[0].get("status", "")]):
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
