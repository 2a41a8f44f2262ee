"""VirgaApp: one management server's database, job engine, driver pool and background loops."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlmodel import Session, select
from virga.api.auth import BY_USER_ID, BY_USERNAME, lookup
from virga.config import Settings
from virga.context import Ctx
from virga.db import Database
from virga.errors import AuthError
from virga.jobs.engine import JobEngine
from virga.models import ManagementServer, utcnow
from virga.services.hostpool import HostPool
from virga.services.states import ServerState, transition

log = logging.getLogger(__name__)
HEARTBEAT = 10.0
DEAD_AFTER = timedelta(seconds=60)


class VirgaApp:
    """A management server: start() brings up the schema, defaults, jobs and loops."""

    def __init__(self, settings: Settings | None = None) -> None:
        """Create the database handle and the engine; nothing runs yet."""
        self.settings = settings or Settings()
        self.db = Database(self.settings.db_url)
        self.server_uuid = ""
        self.jobs = JobEngine(self, self.settings.workers, owner="")
        self.hosts = HostPool(self)
        self.listeners: list[Callable[[str, Any], None]] = []
        self._loops: list[asyncio.Task[None]] = []
        self.started = False
        self.extensions: dict[str, Any] = {}

    async def start(self) -> None:
        """Migrate, seed defaults, register this server and start the job engine and loops."""
        from virga.api.registry import commands
        from virga.api.views import render_refs
        from virga.jobs.engine import JOBS_TABLE

        commands(), JOBS_TABLE.all()  # load both registries now, not on the first request
        self.jobs.renderer = render_refs(self)
        from virga.drivers.simulator.world import WORLD
        from virga.services.bootstrap import ensure_defaults
        from virga.services.secrets import check_key

        check_key(self.db.engine)  # refuses to start when the key is gone and the database needs it
        self.db.migrate()
        with self.db.session() as s:
            ensure_defaults(s)
            self.server_uuid = self._register(s)
        if self.settings.simulator_state is not None and WORLD.path != self.settings.simulator_state:
            WORLD.open(self.settings.simulator_state or None)
        self.jobs.owner = self.server_uuid
        await self.jobs.start()
        self.every(HEARTBEAT, self._heartbeat)
        from virga.services.monitor import start_monitors

        start_monitors(self)
        self.started = True

    async def stop(self) -> None:
        """Stop loops and jobs, close driver connections and the database."""
        for t in self._loops:
            t.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._loops.clear()
        await self.jobs.stop()
        await self.hosts.close_all()
        self._sign_off()
        self.db.dispose()
        self.started = False

    def _sign_off(self) -> None:
        """Mark this server Down on a clean stop, so that servers sharing the database take over its jobs
        at once instead of waiting for its heartbeat to go stale."""
        if not self.server_uuid:
            return
        try:
            with self.db.session() as s:
                row = s.exec(select(ManagementServer).where(ManagementServer.uuid == self.server_uuid)).first()
                if row is not None:
                    transition(row, "signed_off")
                    s.add(row)
                    s.commit()
        except Exception as exc:  # a database that is gone: the heartbeat timeout covers it
            log.warning("could not mark this management server down: %s", exc)

    def _register(self, s: Session) -> str:
        """Find or create this server's row and mark it up."""
        row = s.exec(select(ManagementServer).where(ManagementServer.name == self.settings.server_name)).first()
        if row is None:
            row = ManagementServer(name=self.settings.server_name, state=ServerState.UP)
        else:
            transition(row, "started")
        row.lastseen, row.version = utcnow(), "0.1.0"
        s.add(row)
        s.commit()
        return row.uuid

    async def _heartbeat(self) -> None:
        """Tell other servers this one is alive."""
        with self.db.session() as s:
            row = s.exec(select(ManagementServer).where(ManagementServer.uuid == self.server_uuid)).first()
            if row is not None:
                row.lastseen = utcnow()
                s.add(row)
                s.commit()

    def dead_owners(self) -> set[str]:
        """UUIDs of servers whose heartbeat stopped."""
        cutoff = utcnow() - DEAD_AFTER
        with self.db.session() as s:
            rows = s.exec(
                select(ManagementServer).where(
                    (ManagementServer.lastseen < cutoff) | (ManagementServer.state == "Down")
                )
            ).all()
        return {r.uuid for r in rows}

    def every(self, seconds: float, fn: Callable[[], Awaitable[None]]) -> None:
        """Run a coroutine function periodically until stop()."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(seconds)
                try:
                    await fn()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("periodic task %s failed", getattr(fn, "__name__", fn))

        self._loops.append(asyncio.create_task(loop()))

    def emit(self, kind: str, payload: Any) -> None:
        """Tell in-process listeners (the TUI) that something changed."""
        for fn in list(self.listeners):
            try:
                fn(kind, payload)
            except Exception:
                log.exception("listener failed")

    def ctx_for_user(self, s: Session, user_id: int | None) -> Ctx:
        """Build a call context for a user id (jobs run as the user who queued them; else the admin)."""
        row = lookup(s, BY_USER_ID, user_id) if user_id else None
        if row is None:
            row = lookup(s, BY_USERNAME, "admin")
        if row is None:
            raise AuthError("no such user")
        user, account, domain = row
        return Ctx(app=self, db=s, user=user, account=account, domain=domain)
