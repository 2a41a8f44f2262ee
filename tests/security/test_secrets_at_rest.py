"""Secrets at rest: encrypted in the database with a key file kept apart; private file modes; the key is needed."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlmodel import select
from virga.config import Settings
from virga.core import VirgaApp
from virga.models import Host, User
from virga.services import secrets

from tests.factories import build_sim_cloud, make_user


def _db_bytes(tmp: Path) -> bytes:
    """Every byte SQLite wrote for the database (main file, WAL, shared memory)."""
    return b"".join(p.read_bytes() for p in tmp.glob("virga.db*"))


async def test_no_secret_key_or_password_in_the_database_files(app: VirgaApp, tmp_path: Path) -> None:
    creds = make_user(app, "erin")
    build_sim_cloud(app)
    with app.db.session() as s:
        host = s.exec(select(Host)).first()
        assert host is not None
        host.password = "host-password-1234"
        s.add(host)
        s.commit()
    raw = _db_bytes(tmp_path)
    assert creds.secretkey.encode() not in raw and b"host-password-1234" not in raw
    assert creds.apikey.encode() in raw  # the API key is an identifier, looked up in clear
    with app.db.session() as s:  # read back through the model: in clear
        user = s.exec(select(User).where(User.username == "erin")).one()
        assert user.secretkey == creds.secretkey
        stored = s.connection().exec_driver_sql("SELECT secretkey FROM user WHERE username = 'erin'").scalar()
        assert stored.startswith(secrets.PREFIX)


async def test_signed_requests_still_verify(app: VirgaApp) -> None:
    from tests.conftest import client_for

    erin = await client_for(app, make_user(app, "erin"))
    assert isinstance(await erin.call("listZones"), dict)


def test_key_file_is_apart_and_private() -> None:
    path = secrets.key_path()
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
    from virga.config import data_dir

    assert data_dir() not in path.parents


async def test_data_dir_private_and_database_files_0600_whatever_the_umask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("VIRGA_DATA_DIR", str(data))
    old = os.umask(0o000)
    try:
        virga = VirgaApp(Settings(db_url=f"sqlite:///{data}/virga.db", workers=2, sync_interval=3600))
        await virga.start()
        make_user(virga, "erin")
        files = sorted(data.glob("virga.db*"))
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in files}
        await virga.stop()
    finally:
        os.umask(old)
    assert stat.S_IMODE(data.stat().st_mode) == 0o711  # others may traverse (qemu, to primary storage), not list
    assert "virga.db" in modes and "virga.db-wal" in modes
    assert set(modes.values()) == {0o600}, modes


async def test_refuses_to_start_without_the_key_when_rows_are_encrypted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = tmp_path / "conf" / "virga.key"
    monkeypatch.setenv("VIRGA_KEY_FILE", str(key))
    url = f"sqlite:///{tmp_path}/other.db"
    virga = VirgaApp(Settings(db_url=url, workers=2, sync_interval=3600))
    await virga.start()
    make_user(virga, "erin")
    await virga.stop()
    assert key.exists()
    key.rename(tmp_path / "kept.key")
    secrets._FERNETS.clear()
    again = VirgaApp(Settings(db_url=url, workers=2, sync_interval=3600))
    with pytest.raises(secrets.KeyMissing, match="key file .* is missing"):
        await again.start()
    again.db.dispose()
    (tmp_path / "kept.key").rename(key)
    secrets._FERNETS.clear()
    back = VirgaApp(Settings(db_url=url, workers=2, sync_interval=3600))
    await back.start()
    with back.db.session() as s:
        assert s.exec(select(User).where(User.username == "erin")).one().secretkey
    await back.stop()
    secrets._FERNETS.clear()


def test_migration_encrypts_rows_stored_in_clear(tmp_path: Path) -> None:
    import sqlalchemy as sa
    from virga.db import make_engine
    from virga.migrations.runner import upgrade

    engine = make_engine(f"sqlite:///{tmp_path}/old.db")
    upgrade(engine, "0002")
    rows = {
        "domain": {"name": "ROOT", "path": "/", "level": 0, "state": "Active"},
        "role": {"name": "Admin", "type": "Admin", "description": "", "is_default": 0, "rules": "[]"},
        "account": {"name": "admin", "domain_id": 1, "accounttype": 1, "role_id": 1, "state": "enabled"},
        "user": {
            "username": "admin",
            "account_id": 1,
            "password_hash": "",
            "firstname": "",
            "lastname": "",
            "email": "",
            "apikey": "AK",
            "secretkey": "clear-secret-key",
            "state": "enabled",
        },
    }
    with engine.begin() as conn:  # rows as virga 0002 wrote them: the secret key in clear
        for table, values in rows.items():
            values = {"uuid": table, "created": "2026-01-01 00:00:00", **values}
            cols = ", ".join(values)
            conn.execute(sa.text(f'INSERT INTO "{table}" ({cols}) VALUES (:{", :".join(values)})'), values)
    upgrade(engine)
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT secretkey FROM user")).scalar()
    engine.dispose()
    assert stored.startswith(secrets.PREFIX) and secrets.decrypt(stored) == "clear-secret-key"
    assert b"clear-secret-key" not in b"".join(p.read_bytes() for p in tmp_path.glob("old.db*"))


def test_an_existing_0755_data_dir_loses_read_for_others(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)  # as the appliance's install.sh makes /var/lib/virga
    monkeypatch.setenv("VIRGA_DATA_DIR", str(data))
    secrets.private_sqlite(str(data / "virga.db"))
    assert stat.S_IMODE(data.stat().st_mode) == 0o711
    assert stat.S_IMODE((data / "virga.db").stat().st_mode) == 0o600
    shared = tmp_path / "shared"  # a directory named by hand in VIRGA_DB_URL is left as it is
    shared.mkdir(mode=0o777)
    os.chmod(shared, 0o777)
    secrets.private_sqlite(str(shared / "x.db"))
    assert stat.S_IMODE(shared.stat().st_mode) == 0o777
