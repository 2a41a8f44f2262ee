"""deleteTemplate removes the template from the real NFS store and drops cached copies no volume uses."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlmodel import select
from virga.appliance.storage.cache import local_copy
from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.models import Account, Template, Volume

from tests.storage.conftest import NfsFixture, make_qcow2
from tests.storage.httpserver import FileServer
from tests.storage.kvmzone import build
from tests.storage.test_template_api import _register, _serve, _watch

pytestmark = [pytest.mark.integration]


async def _ready_template(
    app: VirgaApp, admin: VirgaClient, nfs: NfsFixture, http: FileServer, tmp_path: Path, tag: str
) -> tuple[str, str, list[Path]]:
    """A downloaded template in a fresh KVM zone: (its id, its install path, [pool dir, image-cache copy])."""
    kz = build(app, nfs.url, f"virga-del{tag}-{tmp_path.name[-8:]}", tmp_path / "pool")
    (tmp_path / "pool").mkdir()
    url, sha = _serve(http, make_qcow2(tmp_path / f"img{tag}.qcow2", size="8M", length="1M"))
    tid = await _register(admin, kz.zone, url, sha)
    t = await _watch(admin, tid, [])
    assert t["isready"], t
    with app.db.session() as s:
        path = s.exec(select(Template).where(Template.uuid == tid)).one().install_path
    assert hashlib.sha256(await nfs.store.read_bytes(path.removeprefix(nfs.url + "/"))).hexdigest() == sha
    cached = Path(local_copy(path))  # what the libvirt driver makes on first use
    base = tmp_path / "pool" / f"virga-template-{tid}.qcow2"  # the driver's per-pool base image
    base.write_bytes(cached.read_bytes())
    return tid, path, [base, cached]


def _store_files(nfs: NfsFixture, path: str) -> list[Path]:
    """The files of a template's folder in the export (what the NFS server holds)."""
    folder = nfs.export / path.removeprefix(nfs.url + "/").rpartition("/")[0]
    return sorted(folder.glob("*")) if folder.exists() else []


async def test_delete_template_removes_store_and_unused_copies(
    app: VirgaApp,
    admin: VirgaClient,
    nfs: NfsFixture,
    http: FileServer,
    tmp_path: Path,
) -> None:
    tid, path, copies = await _ready_template(app, admin, nfs, http, tmp_path, "a")
    mine = {Path(path).name, "template.properties"}
    assert mine <= {p.name for p in _store_files(nfs, path)}
    folder = path.removeprefix(nfs.url + "/").rpartition("/")[0]
    foreign = f"{folder}/{tid}-other.qcow2"  # another image in the same folder (a new database over an old store)
    await nfs.store.put_bytes(b"not mine", foreign)
    assert await admin.run("deleteTemplate", id=tid) == {"success": True}
    assert not mine & {p.name for p in _store_files(nfs, path)}
    assert await nfs.store.read_bytes(foreign) == b"not mine"  # nothing already stored is lost
    await nfs.store.delete(foreign)
    assert not await nfs.store.exists(path.removeprefix(nfs.url + "/"))
    assert [p for p in copies if p.exists()] == []
    assert await admin.list("listTemplates", "template", templatefilter="self", id=tid) == []


async def test_delete_template_keeps_copies_a_volume_uses(
    app: VirgaApp,
    admin: VirgaClient,
    nfs: NfsFixture,
    http: FileServer,
    tmp_path: Path,
) -> None:
    tid, path, copies = await _ready_template(app, admin, nfs, http, tmp_path, "b")
    with app.db.session() as s:  # a root volume on the pool made from the template
        t = s.exec(select(Template).where(Template.uuid == tid)).one()
        acct = s.exec(select(Account).where(Account.name == "admin")).one()
        pool_id = _pool_id(s, tmp_path / "pool")
        s.add(
            Volume(
                name="ROOT-1",
                zone_id=t.zone_id or 0,
                pool_id=pool_id,
                size=8 << 20,
                state="Ready",
                template_id=t.id,
                account_id=acct.id or 0,
                domain_id=acct.domain_id,
            )
        )
        s.commit()
    assert await admin.run("deleteTemplate", id=tid) == {"success": True}
    assert Path(path).name not in {p.name for p in _store_files(nfs, path)}  # the store copy goes
    assert all(p.exists() for p in copies), copies


def _pool_id(s, path: Path) -> int:  # noqa: ANN001
    """The id of the storage pool at a directory."""
    from virga.models import StoragePool

    return s.exec(select(StoragePool).where(StoragePool.path == str(path))).one().id
