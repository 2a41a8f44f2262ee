"""Template upload (getUploadParamsForTemplate + signed multipart POST, the CLI's path) and extractTemplate."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from virga.cli.template import render_bar, upload
from virga.client import ApiError, VirgaClient
from virga.core import VirgaApp

from tests.storage.conftest import NfsFixture, make_qcow2
from tests.storage.kvmzone import build

pytestmark = [pytest.mark.integration]


@pytest.fixture
def zone(app: VirgaApp, nfs: NfsFixture, tmp_path: Path) -> str:
    """A KVM zone (database only) whose image store is the ganesha export."""
    return build(app, nfs.url, f"virga-up-{tmp_path.name[-8:]}", tmp_path).zone


async def _post(client: VirgaClient, up: dict, data: bytes, **headers: str):  # noqa: ANN202
    """POST a file the way CloudStack clients do (multipart field 'file' + X- headers)."""
    h = {"X-signature": up["signature"], "X-metadata": up["metadata"], "X-expires": up["expires"], **headers}
    return await client.http.post(
        urlsplit(up["postURL"]).path,
        headers=h,
        files={"file": ("t.qcow2", io.BytesIO(data), "application/octet-stream")},
        data={"comment": "ignored field before the file"},
    )


async def test_cli_upload_then_extract(admin: VirgaClient, nfs: NfsFixture, zone: str, tmp_path: Path) -> None:
    img = make_qcow2(tmp_path / "up.qcow2", pattern=0x42)
    tmpl = await upload(admin, str(img), {"zoneid": zone, "name": "uploaded"}, quiet=True)
    assert tmpl["isready"] and tmpl["status"] == "Download Complete" and tmpl["format"] == "QCOW2"
    stored = list(nfs.export.glob(f"template/tmpl/*/*/{tmpl['id']}.qcow2"))
    assert len(stored) == 1 and stored[0].read_bytes() == img.read_bytes()

    res = (await admin.run("extractTemplate", id=tmpl["id"], mode="HTTP_DOWNLOAD"))["template"]
    assert res["extractMode"] == "HTTP_DOWNLOAD" and res["state"] == "DOWNLOAD_URL_CREATED"
    url = urlsplit(res["url"])
    got = await admin.http.get(f"{url.path}?{url.query}")
    assert got.status_code == 200 and hashlib.sha256(got.content).digest() == hashlib.sha256(img.read_bytes()).digest()
    bad = await admin.http.get(f"{url.path}?{url.query[:-4]}0000")
    assert bad.status_code == 531
    with pytest.raises(ApiError) as err:
        await admin.run("extractTemplate", id=tmpl["id"], mode="FTP_UPLOAD")
    assert err.value.code == 431


async def test_bad_uploads_fail_cleanly(admin: VirgaClient, nfs: NfsFixture, zone: str, tmp_path: Path) -> None:
    img = make_qcow2(tmp_path / "up.qcow2").read_bytes()
    up = (
        await admin.call(
            "getUploadParamsForTemplate",
            name="bad",
            format="QCOW2",
            hypervisor="KVM",
            zoneid=zone,
            checksum="{SHA-256}" + "0" * 64,
        )
    )["getuploadparams"]
    assert set(up) == {"id", "postURL", "metadata", "expires", "signature"}
    resp = await _post(admin, up, img)
    assert resp.status_code == 431 and "checksum" in resp.json()["errortext"]
    (t,) = await admin.list("listTemplates", "template", templatefilter="self", id=up["id"])
    assert not t["isready"] and t["status"].startswith("Upload Failed") and "checksum" in t["status"]
    assert not list(nfs.export.glob(f"template/tmpl/*/*/{up['id']}*"))
    assert not list(nfs.export.rglob(".*part-*"))

    forged = await _post(admin, {**up, "signature": "0" * 64}, img)
    assert forged.status_code == 531

    up2 = (await admin.call("getUploadParamsForTemplate", name="text", format="QCOW2", hypervisor="KVM", zoneid=zone))[
        "getuploadparams"
    ]
    resp = await _post(admin, up2, b"not a disk image\n" * 100)
    assert resp.status_code == 431
    (t2,) = await admin.list("listTemplates", "template", templatefilter="self", id=up2["id"])
    assert t2["status"].startswith("Upload Failed") and not t2["isready"]


def test_render_bar() -> None:
    assert render_bar("up", 45, 100).startswith("up [#############.................]  45%")
    assert "100%" in render_bar("up", 7, 7)
