"""Template/ISO downloads from a local HTTP server into the NFS store: success, every failure, resume."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from virga.appliance.storage import (
    ChecksumMismatch,
    DownloadHTTPError,
    DownloadStalled,
    DownloadTruncated,
    FormatMismatch,
    StoreFileExists,
    discard_staging,
    download,
    upload_file,
)
from virga.appliance.storage.landing import write_properties
from virga.appliance.storage.layout import iso_path, parse_properties, template_path
from virga.appliance.storage.primary import ensure_on_primary
from virga.appliance.storage.staging import Staged, TransferState
from virga.appliance.storage.tools import qemu_img_compare

from tests.storage.conftest import NfsFixture, make_qcow2
from tests.storage.httpserver import FileServer

pytestmark = pytest.mark.integration


def sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def dest(fmt: str = "qcow2") -> str:
    """A fresh template path in the layout."""
    return template_path(2, uuid.uuid4().hex[:8], str(uuid.uuid4()), fmt)


def assert_clean(nfs: NfsFixture, staging: Path, path: str) -> None:
    """Nothing partial left: empty staging, no temp files and no destination on the export."""
    assert list(staging.iterdir()) == []
    assert not (nfs.export / path).exists()
    assert not list(nfs.export.rglob("*.part-*"))


async def test_download_store_and_copy_to_primary(
    nfs: NfsFixture, http: FileServer, staging: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    img = make_qcow2(Path(http.root) / "tiny.qcow2", "64M", 0x5A, "6M")
    seen: list[tuple[int, int]] = []
    path = dest()
    stored = await download(
        f"{http.base_url}/tiny.qcow2",
        nfs.store,
        path,
        checksum=f"{{SHA-256}}{sha256(img)}",
        expected_format="qcow2",
        progress=lambda p, b: seen.append((p, b)),
        staging_dir=str(staging),
    )
    assert stored.fmt == "qcow2" and stored.size == img.stat().st_size and stored.virtual_size == 64 << 20
    assert seen[-1] == (100, img.stat().st_size) and len(seen) >= 2
    assert [p for p, _ in seen] == sorted(p for p, _ in seen)
    back = subprocess.run(["nfs-cat", stored.url], capture_output=True, check=True).stdout
    assert back == img.read_bytes()
    props = parse_properties((await nfs.store.read_bytes(await write_properties(nfs.store, stored, "201"))).decode())
    assert props["qcow2.filename"] == path.rpartition("/")[2] and props["id"] == "201"
    assert list(staging.iterdir()) == []

    import virga.appliance.storage.primary as primary

    calls: list[str] = []
    real = primary.convert_argv

    def counting(*a: object, **k: object) -> list[str]:
        calls.append(str(a[0]))
        return real(*a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(primary, "convert_argv", counting)
    pool = tmp_path / "pool"
    pool.mkdir()
    a, b = await asyncio.gather(ensure_on_primary(nfs.store, path, pool), ensure_on_primary(nfs.store, path, pool))
    assert a == b and len(calls) == 1
    assert await qemu_img_compare(str(img), a, "qcow2", "qcow2")
    assert [p.name for p in pool.iterdir() if not p.name.endswith(".lock")] == [Path(a).name]


async def test_bad_checksum(nfs: NfsFixture, http: FileServer, staging: Path) -> None:
    make_qcow2(Path(http.root) / "c.qcow2")
    path = dest()
    with pytest.raises(ChecksumMismatch, match="checksum mismatch"):
        await download(f"{http.base_url}/c.qcow2", nfs.store, path, checksum="0" * 64, staging_dir=str(staging))
    assert_clean(nfs, staging, path)


async def test_truncated(nfs: NfsFixture, http: FileServer, staging: Path) -> None:
    make_qcow2(Path(http.root) / "t.qcow2", length="2M")
    path = dest()
    with pytest.raises(DownloadTruncated, match="cut off|ended after"):
        await download(f"{http.base_url}/t.qcow2?cut_after=100000", nfs.store, path, staging_dir=str(staging))
    assert_clean(nfs, staging, path)


async def test_text_posing_as_qcow2(nfs: NfsFixture, http: FileServer, staging: Path) -> None:
    (Path(http.root) / "fake.qcow2").write_text("this is not a disk image\n" * 1000)
    path = dest()
    with pytest.raises(FormatMismatch, match="claims to be qcow2"):
        await download(
            f"{http.base_url}/fake.qcow2", nfs.store, path, expected_format="qcow2", staging_dir=str(staging)
        )
    assert_clean(nfs, staging, path)


async def test_stalled_server(nfs: NfsFixture, http: FileServer, staging: Path) -> None:
    make_qcow2(Path(http.root) / "s.qcow2", length="2M")
    path = dest()
    with pytest.raises(DownloadStalled, match="no data for 1s"):
        await download(
            f"{http.base_url}/s.qcow2?stall_after=65536", nfs.store, path, stall_timeout=1, staging_dir=str(staging)
        )
    assert_clean(nfs, staging, path)


async def test_http_404(nfs: NfsFixture, http: FileServer, staging: Path) -> None:
    path = dest()
    with pytest.raises(DownloadHTTPError, match="404"):
        await download(f"{http.base_url}/missing.qcow2", nfs.store, path, staging_dir=str(staging))
    assert_clean(nfs, staging, path)


async def test_iso_detection(nfs: NfsFixture, http: FileServer, staging: Path) -> None:
    iso = Path(http.root) / "boot.iso"
    data = bytearray(96 * 1024)
    data[0x8000:0x8007] = b"\x01CD001\x01"
    iso.write_bytes(bytes(data))
    make_qcow2(Path(http.root) / "disk.qcow2")
    good = iso_path(2, uuid.uuid4().hex[:8], "u1")
    stored = await download(
        f"{http.base_url}/boot.iso", nfs.store, good, expected_format="iso", staging_dir=str(staging)
    )
    assert stored.fmt == "iso" and (nfs.export / good).read_bytes() == bytes(data)
    bad = iso_path(2, uuid.uuid4().hex[:8], "u2")
    with pytest.raises(FormatMismatch, match="claims to be iso but is qcow2"):
        await download(f"{http.base_url}/disk.qcow2", nfs.store, bad, expected_format="iso", staging_dir=str(staging))
    assert_clean(nfs, staging, bad)


async def test_existing_file_is_kept(nfs: NfsFixture, http: FileServer, staging: Path) -> None:
    img = make_qcow2(Path(http.root) / "e.qcow2")
    path = dest()
    await download(f"{http.base_url}/e.qcow2", nfs.store, path, staging_dir=str(staging))
    before = (nfs.export / path).read_bytes()
    with pytest.raises(StoreFileExists):
        await download(f"{http.base_url}/e.qcow2", nfs.store, path, staging_dir=str(staging))
    assert (nfs.export / path).read_bytes() == before == img.read_bytes()


async def test_resume_after_kill(nfs: NfsFixture, http: FileServer, staging: Path) -> None:
    img = make_qcow2(Path(http.root) / "r.qcow2", "64M", 0x33, "8M")
    url, path = f"{http.base_url}/r.qcow2?rate=4000000", dest()
    code = (
        "import asyncio,sys; from virga.appliance.storage import ImageStore, download; "
        "asyncio.run(download(sys.argv[1], ImageStore(sys.argv[2]), sys.argv[3], staging_dir=sys.argv[4]))"
    )
    child = subprocess.Popen([sys.executable, "-c", code, url, nfs.url, path, str(staging)])
    try:
        deadline = time.monotonic() + 60
        while not any(p.stat().st_size > 1_000_000 for p in staging.glob("*.part")):
            assert child.poll() is None and time.monotonic() < deadline, "child ended before the kill"
            await asyncio.sleep(0.05)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    partial = next(staging.glob("*.part")).stat().st_size
    assert 0 < partial < img.stat().st_size
    http.requests.clear()
    stored = await download(url, nfs.store, path, checksum=sha256(img), staging_dir=str(staging))
    ranges = [r for _, r in http.requests]
    assert ranges and ranges[0] is not None and int(ranges[0][6:-1]) > 0
    assert (nfs.export / path).read_bytes() == img.read_bytes() and stored.size == img.stat().st_size
    assert list(staging.iterdir()) == []


async def test_cancel_keeps_partial_until_discarded(nfs: NfsFixture, http: FileServer, staging: Path) -> None:
    make_qcow2(Path(http.root) / "k.qcow2", length="4M")
    url, path = f"{http.base_url}/k.qcow2?rate=1000000", dest()
    task = asyncio.create_task(download(url, nfs.store, path, staging_dir=str(staging)))
    while not any(p.stat().st_size > 0 for p in staging.glob("*.part")):
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(list(staging.glob("*.part"))) == 1 and len(list(staging.glob("*.json"))) == 1
    discard_staging(url, path, str(staging))
    assert_clean(nfs, staging, path)


async def test_upload_file(nfs: NfsFixture, staging: Path, tmp_path: Path) -> None:
    img = make_qcow2(tmp_path / "up.qcow2")
    path = dest()
    stored = await upload_file(
        str(img),
        nfs.store,
        path,
        checksum=hashlib.md5(img.read_bytes()).hexdigest(),
        expected_format="qcow2",
        staging_dir=str(staging),
    )
    assert stored.size == img.stat().st_size and (nfs.export / path).read_bytes() == img.read_bytes()
    text = tmp_path / "t.qcow2"
    text.write_text("nope\n" * 100)
    bad = dest()
    with pytest.raises(FormatMismatch):
        await upload_file(str(text), nfs.store, bad, expected_format="qcow2", staging_dir=str(staging))
    assert_clean(nfs, staging, bad)


async def test_resume_ignored_by_the_server_restarts_from_zero(
    nfs: NfsFixture, http: FileServer, staging: Path
) -> None:
    img = make_qcow2(Path(http.root) / "n.qcow2", length="3M")
    url, path = f"{http.base_url}/n.qcow2?no_range=1", dest()
    staged = Staged.for_transfer(staging, url, path)
    staged.part.write_bytes(b"stale bytes that must not survive" * 1000)  # a partial file from another version
    staged.save(TransferState(url=url, dest_path=path, etag='"old"', total=img.stat().st_size))
    http.requests.clear()
    stored = await download(url, nfs.store, path, checksum=sha256(img), staging_dir=str(staging))
    assert [r for _, r in http.requests][0] == "bytes=33000-"  # it asked to resume, the server sent it all
    assert (nfs.export / path).read_bytes() == img.read_bytes() and stored.size == img.stat().st_size
    assert list(staging.iterdir()) == []


async def test_orphaned_curl_dies_with_its_parent(http: FileServer, staging: Path) -> None:
    make_qcow2(Path(http.root) / "o.qcow2", length="4M")
    url = f"{http.base_url}/o.qcow2?rate=500000"
    code = (
        "import asyncio,sys; from virga.appliance.storage.fetch import Fetch; "
        "from virga.appliance.storage.staging import Staged, TransferState; from pathlib import Path; "
        "st = Staged.for_transfer(Path(sys.argv[2]), sys.argv[1], 'x'); "
        "asyncio.run(Fetch(sys.argv[1], st, TransferState(url=sys.argv[1], dest_path='x'), None, None, "
        "60, 30, True).run())"
    )
    child = subprocess.Popen([sys.executable, "-c", code, url, str(staging)])
    try:
        deadline = time.monotonic() + 60
        while not any(p.stat().st_size > 0 for p in staging.glob("*.part")):
            assert child.poll() is None and time.monotonic() < deadline, "child ended early"
            await asyncio.sleep(0.05)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    part = next(staging.glob("*.part"))
    await asyncio.sleep(0.5)
    size = part.stat().st_size
    await asyncio.sleep(1.0)  # curl at 500 kB/s would have added ~500 kB by now
    assert part.stat().st_size == size
