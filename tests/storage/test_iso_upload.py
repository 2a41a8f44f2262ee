"""ISO upload (getUploadParamsForIso + signed POST, the CLI's path and the real `cs` client) and extractIso."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from virga.api.server import make_asgi
from virga.cli.template import upload
from virga.client import ApiError, VirgaClient
from virga.core import VirgaApp
from virga.services import uploads

from tests.conftest import client_for
from tests.factories import make_user
from tests.storage.conftest import NfsFixture
from tests.storage.test_transfers import _post, zone  # noqa: F401  (the KVM zone on the ganesha export)
from tests.support import need

pytestmark = [pytest.mark.integration]


def make_iso(folder: Path, name: str = "tiny.iso") -> Path:
    """A real ISO 9660 image (genisoimage) holding two small files."""
    need(shutil.which("genisoimage") is not None, "genisoimage not installed (apt package genisoimage)")
    src = folder / "iso-src"
    src.mkdir()
    (src / "README.TXT").write_text("virga test ISO\n")
    (src / "DATA.BIN").write_bytes(bytes(range(256)) * 64)
    out = folder / name
    subprocess.run(["genisoimage", "-quiet", "-V", "VIRGATEST", "-o", str(out), str(src)], check=True)
    return out


def _sha(data: bytes) -> str:
    """Hex SHA-256."""
    return hashlib.sha256(data).hexdigest()


async def _download(client: VirgaClient, url: str) -> tuple[int, bytes]:
    """GET a signed download URL through the in-process client; (status, body)."""
    parts = urlsplit(url)
    got = await client.http.get(f"{parts.path}?{parts.query}")
    return got.status_code, got.content


async def test_upload_iso_then_extract(
    admin: VirgaClient,
    nfs: NfsFixture,
    zone: str,
    tmp_path: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    iso = make_iso(tmp_path)
    got = await upload(
        admin, str(iso), {"zoneid": zone, "name": "tiny-iso", "isextractable": "true"}, quiet=True, kind="iso"
    )
    assert got["isready"] and got["status"] == "Download Complete" and got["format"] == "ISO", got
    stored = list(nfs.export.glob(f"iso/*/*/{got['id']}.iso"))
    assert len(stored) == 1
    back = tmp_path / "back.iso"
    await nfs.store.get_file(str(stored[0].relative_to(nfs.export)), str(back))  # read back through libnfs
    assert _sha(back.read_bytes()) == _sha(iso.read_bytes())

    res = (await admin.run("extractIso", id=got["id"], mode="HTTP_DOWNLOAD"))["iso"]
    assert res["extractMode"] == "HTTP_DOWNLOAD" and res["state"] == "DOWNLOAD_URL_CREATED" and res["zoneid"] == zone
    status, body = await _download(admin, res["url"])
    assert status == 200 and _sha(body) == _sha(iso.read_bytes())
    status, _ = await _download(admin, res["url"][:-4] + "0000")
    assert status == 531
    # the same signature cannot fetch another object's file
    assert (await _download(admin, res["url"].replace("/download/iso/", "/download/template/")))[0] == 531

    monkeypatch.setattr(uploads, "EXTRACT_TTL", -60)
    stale = (await admin.run("extractIso", id=got["id"], mode="HTTP_DOWNLOAD"))["iso"]["url"]
    status, body = await _download(admin, stale)
    assert status == 531 and b"expired" in body


async def test_text_posing_as_iso_fails_cleanly(admin: VirgaClient, nfs: NfsFixture, zone: str) -> None:  # noqa: F811
    up = (await admin.call("getUploadParamsForIso", name="fake", zoneid=zone))["getuploadparams"]
    assert set(up) == {"id", "postURL", "metadata", "expires", "signature"} and "/upload/iso/" in up["postURL"]
    resp = await _post(admin, up, b"this is not an ISO image at all\n" * 2000)
    assert resp.status_code == 431 and "iso" in resp.json()["errortext"].lower()
    (iso,) = await admin.list("listIsos", "iso", isofilter="self", id=up["id"])
    assert not iso["isready"] and iso["status"].startswith("Upload Failed") and "raw data" in iso["status"], iso
    assert not list(nfs.export.glob(f"iso/*/*/{up['id']}*"))
    assert not list(nfs.export.rglob(".*part-*"))
    with pytest.raises(ApiError) as err:
        await admin.run("extractIso", id=up["id"], mode="HTTP_DOWNLOAD")
    assert err.value.code == 431
    with pytest.raises(ApiError) as err:
        await admin.call("getUploadParamsForIso", name="bad", zoneid=zone, format="QCOW2")
    assert err.value.code == 431


async def test_iso_isolation(
    app: VirgaApp,
    admin: VirgaClient,
    nfs: NfsFixture,
    zone: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    iso = make_iso(tmp_path)
    mine = await upload(
        admin, str(iso), {"zoneid": zone, "name": "private-iso", "isextractable": "true"}, quiet=True, kind="iso"
    )
    pending = (await admin.call("getUploadParamsForIso", name="pending", zoneid=zone))["getuploadparams"]
    bob = await client_for(app, make_user(app, "bob-iso"))
    try:
        with pytest.raises(ApiError) as err:
            await bob.run("extractIso", id=mine["id"], mode="HTTP_DOWNLOAD")
        assert err.value.code == 431  # someone else's private ISO is not even visible
        own = (await bob.call("getUploadParamsForIso", name="bobs", zoneid=zone))["getuploadparams"]
        # bob's signed parameters do not open the admin's pending upload
        forged = {**own, "postURL": pending["postURL"]}
        resp = await _post(bob, forged, iso.read_bytes())
        assert resp.status_code == 531
    finally:
        await bob.close()
    (still,) = await admin.list("listIsos", "iso", isofilter="self", id=pending["id"])
    assert still["status"] == uploads.AWAITING and not list(nfs.export.glob(f"iso/*/*/{pending['id']}*"))


@asynccontextmanager
async def served(app: VirgaApp) -> AsyncIterator[str]:
    """The API on a loopback port (uvicorn on this event loop); yields the http://host:port base."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(make_asgi(app, manage=False), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "uvicorn did not start"
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_iso_with_cs_client(
    app: VirgaApp,
    admin: VirgaClient,
    nfs: NfsFixture,
    zone: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    cs_mod = pytest.importorskip("cs")
    import requests

    iso = make_iso(tmp_path)
    async with served(app) as base:
        cs = cs_mod.CloudStack(
            endpoint=f"{base}/client/api",
            key=admin.creds.apikey,
            secret=admin.creds.secretkey,
            fetch_result=True,
            job_timeout=60,
            poll_interval=0.05,
        )
        up = (
            await asyncio.to_thread(
                cs.getUploadParamsForIso, name="cs-iso", zoneid=zone, displaytext="via cs", isextractable="true"
            )
        )["getuploadparams"]
        headers = {"X-signature": up["signature"], "X-metadata": up["metadata"], "X-expires": up["expires"]}

        def post() -> requests.Response:
            """The multipart POST as a browser or script would send it."""
            with open(iso, "rb") as f:
                return requests.post(
                    base + urlsplit(up["postURL"]).path, headers=headers, files={"file": ("tiny.iso", f)}, timeout=60
                )

        resp = await asyncio.to_thread(post)
        assert resp.status_code == 200, resp.text
        (listed,) = (await asyncio.to_thread(cs.listIsos, isofilter="self", id=up["id"]))["iso"]
        assert listed["isready"] and listed["name"] == "cs-iso"
        res = (await asyncio.to_thread(cs.extractIso, id=up["id"], mode="HTTP_DOWNLOAD"))["iso"]
        parts = urlsplit(res["url"])
        body = await asyncio.to_thread(lambda: requests.get(f"{base}{parts.path}?{parts.query}", timeout=60))
        assert body.status_code == 200 and _sha(body.content) == _sha(iso.read_bytes())
