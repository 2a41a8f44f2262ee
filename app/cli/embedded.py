"""The embedded cloud: the management server in this process, reached through an in-process client."""

from __future__ import annotations

import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext

from sqlmodel import select
from virga.api.auth import hash_password, new_keys
from virga.api.server import make_asgi
from virga.client import Credentials, VirgaClient
from virga.config import Settings, data_dir
from virga.core import VirgaApp
from virga.models import User


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

    with hold("embedded virga (TUI or CLI)") if uses_data_dir() else nullcontext():
        async with _started(creds) as pair:
            yield pair


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
    if url:
        client = VirgaClient(url, creds)
        try:
            yield client
        finally:
            await client.close()
        return
    async with embedded(creds) as (_, client):
        yield client
