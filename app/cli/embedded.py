"""The embedded cloud: the management server in this process, reached through an in-process client."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, nullcontext
from pathlib import Path

import uvicorn
from sqlmodel import select
from virga.api.auth import hash_password, new_keys
from virga.api.server import make_asgi
from virga.client import Credentials, VirgaClient
from virga.config import Settings, data_dir
from virga.core import VirgaApp
from virga.models import User

SOCKET_NAME = "virga.sock"


def settings() -> Settings:
    """Settings of the embedded server: database and simulator state in the data dir."""
    return Settings(simulator_state=str(data_dir() / "simulator.db"))


def ensure_admin(app: VirgaApp, force: bool = False) -> tuple[Credentials, bool]:
    """Give the admin a password and API keys if it has none (or anew with force); True when created."""
    with app.db.session() as s:
        admin = s.exec(select(User).where(User.username == "admin")).one()
        if admin.apikey and admin.password_hash and not force:
            return Credentials(apikey=admin.apikey, secretkey=admin.secretkey or "", username="admin"), False
        password = secrets.token_urlsafe(12)
        admin.password_hash = hash_password(password)
        admin.apikey, admin.secretkey = new_keys()
        s.add(admin)
        s.commit()
        return Credentials(apikey=admin.apikey, secretkey=admin.secretkey, username="admin", password=password), True


@asynccontextmanager
async def embedded(creds: Credentials | None = None) -> AsyncIterator[tuple[VirgaApp, VirgaClient]]:
    """Start the embedded server and yield it with a client signed as the admin (or creds)."""
    from virga.cli.datalock import hold, uses_data_dir

    with hold("embedded virga (TUI or CLI)") if uses_data_dir() else nullcontext() as lock:
        async with _started(creds) as pair:
            if lock is None:
                yield pair
                return
            async with _local_socket(pair[0], lock):
                yield pair


class _QuietServer(uvicorn.Server):
    """uvicorn inside another program's loop: the program (the TUI, the CLI) keeps its signal handling."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Leave signals alone."""
        yield


@asynccontextmanager
async def _local_socket(app: VirgaApp, lock: Path) -> AsyncIterator[Path]:
    """Serve the API on data_dir/virga.sock (0600, in the 0700 data dir) so that a second virga talks to this one."""
    from virga.cli.datalock import advertise

    sock = lock.parent / SOCKET_NAME
    sock.unlink(missing_ok=True)
    config = uvicorn.Config(make_asgi(app, manage=False), uds=str(sock), log_level="warning", lifespan="off")
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():
        await asyncio.sleep(0.01)
    if task.done():  # could not bind: the embedded server still works, only without its socket
        task.result()
    os.chmod(sock, 0o600)
    advertise(lock, socket=str(sock))
    try:
        yield sock
    finally:
        server.should_exit = True
        await task
        sock.unlink(missing_ok=True)


@asynccontextmanager
async def _started(creds: Credentials | None) -> AsyncIterator[tuple[VirgaApp, VirgaClient]]:
    """The embedded server started, with its client (the data directory's lock is held by the caller)."""
    app = VirgaApp(settings())
    await app.start()
    try:
        if creds is None or not creds.apikey:
            creds, created = ensure_admin(app)
            if created:
                from virga.cli import profiles

                where = profiles.put("default", "", creds, make_default=True)
                print(f"virga: first run; admin password {creds.password} (saved in {where})", file=sys.stderr)
        client = VirgaClient(asgi=make_asgi(app, manage=False), creds=creds)
        try:
            yield app, client
        finally:
            await client.close()
    finally:
        await app.stop()


@asynccontextmanager
async def connect(url: str, creds: Credentials) -> AsyncIterator[VirgaClient]:
    """A client for a profile: remote over HTTP, or the embedded server when url is empty."""
    from virga.cli.datalock import DataDirBusy, busy_text, running_server, uses_data_dir

    running = running_server() if not url and uses_data_dir() else None
    if running is not None:  # another virga runs the embedded cloud: talk to it instead of starting a second one
        if not creds.apikey:
            raise DataDirBusy(busy_text(data_dir(), f"pid {running.get('pid')}: {running.get('what')}"))
        if running.get("cafile"):
            creds.cafile = str(running["cafile"])
        url = "" if running.get("socket") else str(running.get("url", ""))
        client = VirgaClient(url, creds, uds=str(running.get("socket", "")))
    elif url:
        client = VirgaClient(url, creds)
    else:
        async with embedded(creds) as (_, client):
            yield client
        return
    try:
        yield client
    finally:
        await client.close()
