"""ImageStore against a real nfs-ganesha: check, capacity, put/get/list/delete, errors."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest
from virga.appliance.storage import (
    ExportNotFound,
    ImageStore,
    StoreFileExists,
    StoreFileNotFound,
    StoreUnreachable,
)

from tests.storage.conftest import NfsFixture
from tests.storage.netns import NetnsLink

pytestmark = pytest.mark.integration


async def test_check_and_capacity(nfs: NfsFixture) -> None:
    await nfs.store.check()
    cap = await nfs.store.capacity()
    assert cap.total > 0 and 0 < cap.used <= cap.total and 0 <= cap.available <= cap.total


async def test_put_get_list_delete(nfs: NfsFixture, tmp_path: Path) -> None:
    base = f"t-{uuid.uuid4().hex[:8]}"
    src = tmp_path / "f.bin"
    src.write_bytes(b"virga" * 300_000)
    assert await nfs.store.put_file(str(src), f"{base}/a/f.bin") == src.stat().st_size
    assert await nfs.store.exists(f"{base}/a/f.bin")
    assert [e.name for e in await nfs.store.list(f"{base}/a")] == ["f.bin"]
    # read back through libnfs' own tool, not our binding
    out = subprocess.run(["nfs-cat", nfs.store.url_for(f"{base}/a/f.bin")], capture_output=True, check=True)
    assert out.stdout == src.read_bytes()
    back = tmp_path / "back.bin"
    await nfs.store.get_file(f"{base}/a/f.bin", str(back))
    assert back.read_bytes() == src.read_bytes()
    with pytest.raises(StoreFileExists):
        await nfs.store.put_file(str(src), f"{base}/a/f.bin")
    await nfs.store.delete(base)
    assert not await nfs.store.exists(base)
    with pytest.raises(StoreFileNotFound):
        await nfs.store.delete(base)
    await nfs.store.delete(base, missing_ok=True)
    assert not [p for p in nfs.export.rglob("*.part-*")]


async def test_missing_export(nfs: NfsFixture) -> None:
    with pytest.raises(ExportNotFound, match="does not export"):
        await ImageStore(f"nfs://{nfs.link.ns_addr}/no/such/export").check()


async def test_unreachable_server(bare_netns: NetnsLink) -> None:
    with pytest.raises(StoreUnreachable, match="does not answer"):
        await ImageStore(f"nfs://{bare_netns.ns_addr}/export", timeout=5).check()


async def test_ganesha_refuses_bad_exports(tmp_path: Path) -> None:
    from virga.appliance.storage import StorageError
    from virga.appliance.storage.ganesha import Ganesha

    g = Ganesha(tmp_path / "g")
    with pytest.raises(StorageError, match="needs at least one export"):
        await g.start()
    with pytest.raises(StorageError, match="not a directory"):
        await g.export(str(tmp_path / "missing"))
    await g.stop()


async def test_second_export_restarts_server(nfs: NfsFixture, tmp_path_factory: pytest.TempPathFactory) -> None:
    extra = tmp_path_factory.mktemp("export2")
    (extra / "hello.txt").write_text("hi")
    url = await nfs.ganesha.export(str(extra))
    assert [e.name for e in await ImageStore(url).list()] == ["hello.txt"]
    await nfs.store.check()
