"""A cleanly stopped management server is marked Down at once, so servers sharing its database take over."""

from __future__ import annotations

from pathlib import Path

from virga.config import Settings
from virga.core import VirgaApp


async def test_clean_stop_marks_the_server_down(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shared.db"
    a = VirgaApp(Settings(db_url=url, workers=2, sync_interval=3600, server_name="ms-a"))
    b = VirgaApp(Settings(db_url=url, workers=2, sync_interval=3600, server_name="ms-b"))
    await a.start()
    await b.start()
    try:
        assert a.server_uuid not in b.dead_owners()
        await a.stop()
        assert a.server_uuid in b.dead_owners()  # without waiting for its heartbeat to go stale
        assert b.server_uuid not in b.dead_owners()
        await a.start()  # back: Up again
        assert a.server_uuid not in b.dead_owners()
    finally:
        await b.stop()
        if a.started:
            await a.stop()
