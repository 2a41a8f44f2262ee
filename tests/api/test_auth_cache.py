"""The short-lived principal cache: in-process changes apply at once, other servers' within its TTL."""

from __future__ import annotations

import asyncio

import pytest
from virga.api import auth
from virga.core import VirgaApp
from virga.models import User

from tests.api.storage_helpers import code_of
from tests.conftest import client_for
from tests.factories import make_user


async def test_change_by_another_server_is_seen_within_the_ttl(app: VirgaApp, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "PRINCIPAL_TTL", 0.3)
    erin = await client_for(app, make_user(app, "erin"))
    await erin.call("listZones")  # cached now
    users = User.__table__  # type: ignore[attr-defined]
    with app.db.session() as s:  # a Core UPDATE: what another management server's write looks like here
        s.connection().execute(users.update().where(users.c.username == "erin").values(state="disabled"))
        s.commit()
    await asyncio.sleep(0.4)
    assert await code_of(erin.call("listZones")) == 401


async def test_change_in_this_server_applies_at_once(app: VirgaApp) -> None:
    creds = make_user(app, "fred")
    fred = await client_for(app, creds)
    await fred.call("listZones")
    with app.db.session() as s:  # an ORM write, as every command that changes users makes
        user = s.exec(User.__table__.select().where(User.username == "fred")).first()  # type: ignore[attr-defined]
        row = s.get(User, user.id)
        assert row is not None
        row.secretkey = "rotated"
        s.add(row)
        s.commit()
    assert await code_of(fred.call("listZones")) == 401
