"""virga backup and restore on PostgreSQL: pg_dump's snapshot, the key file, restored into an empty database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select
from virga.api.server import make_asgi
from virga.cli import backup
from virga.client import VirgaClient
from virga.config import Settings
from virga.core import VirgaApp
from virga.models import VirtualMachine
from virga.services import secrets

from tests.api.storage_helpers import offering
from tests.factories import build_sim_cloud, make_network, make_user
from tests.pg.server import PgServer


def _use(monkeypatch: pytest.MonkeyPatch, base: Path, url: str) -> Settings:
    """Point virga at a PostgreSQL database, a data directory and a key file of its own."""
    monkeypatch.setenv("VIRGA_DB_URL", url)
    monkeypatch.setenv("VIRGA_DATA_DIR", str(base / "data"))
    monkeypatch.setenv("VIRGA_KEY_FILE", str(base / "conf" / "virga.key"))
    secrets._FERNETS.clear()
    return Settings(db_url=url, simulator_state=str(base / "data" / "simulator.db"), workers=4, sync_interval=3600)


async def test_backup_and_restore_on_postgresql(
    pg_server: PgServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, target = pg_server.create_database("virga_bk_src"), pg_server.create_database("virga_bk_dst")
    try:
        (tmp_path / "a" / "data").mkdir(parents=True)
        first = VirgaApp(_use(monkeypatch, tmp_path / "a", source))
        await first.start()
        try:
            cloud = build_sim_cloud(first)
            creds = make_user(first, "admin")
            admin = VirgaClient(asgi=make_asgi(first, manage=False), creds=creds)
            net = make_network(first, cloud.zone, "admin")
            for i in range(2):
                await admin.run(
                    "deployVirtualMachine",
                    zoneid=cloud.zone,
                    templateid=cloud.template,
                    serviceofferingid=offering(first),
                    networkids=net,
                    name=f"vm-{i}",
                )
            await admin.close()
            made = backup.backup(tmp_path / "pg.backup")
        finally:
            await first.stop()
        assert {"virga.pgdump", "simulator.db", "virga.key"} <= set(made["files"])
        settings = _use(monkeypatch, tmp_path / "b", target)
        backup.restore(tmp_path / "pg.backup")
        with pytest.raises(backup.BackupError, match="not empty"):
            backup.restore(tmp_path / "pg.backup")
        second = VirgaApp(settings)
        await second.start()
        try:
            admin = VirgaClient(asgi=make_asgi(second, manage=False), creds=creds)
            listed = await admin.list("listVirtualMachines", "virtualmachine", listall=True)
            await admin.close()
            with second.db.session() as s:
                names = sorted(v.name for v in s.exec(select(VirtualMachine).where(VirtualMachine.removed == None)))
        finally:
            await second.stop()
        assert names == ["vm-0", "vm-1"] and sorted(v["name"] for v in listed) == names
        assert all(v["state"] == "Running" for v in listed)
    finally:
        secrets._FERNETS.clear()
        pg_server.drop_database("virga_bk_src")
        pg_server.drop_database("virga_bk_dst")
