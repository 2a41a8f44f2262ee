"""Sessions as CloudStack's: parameter and cookie both, logout at once, timeout, lockout, throttling."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select
from virga.api.server import make_asgi
from virga.client import Credentials, VirgaClient
from virga.core import VirgaApp
from virga.models import Alert, Configuration, Event, LoginSession, User, utcnow
from virga.services import throttle

from tests.api.storage_helpers import code_of
from tests.conftest import client_for
from tests.factories import make_user


async def logged_in(app: VirgaApp, name: str = "sam", password: str = "pw") -> VirgaClient:
    """A client logged in with a password (its cookie jar holds the sessionkey cookie)."""
    make_user(app, name, password=password)
    client = VirgaClient(asgi=make_asgi(app, manage=False), creds=Credentials(username=name, password=password))
    await client.login()
    return client


async def post(client: VirgaClient, cookie: str | None, **params: str) -> int:
    """The status of a raw call with exactly the given parameters and sessionkey cookie."""
    client.http.cookies.clear()
    if cookie is not None:
        client.http.cookies.set("sessionkey", cookie)
    resp = await client.http.post("/client/api", data={"response": "json", **params})
    return resp.status_code


async def test_login_cookie_is_httponly_and_samesite(app: VirgaApp) -> None:
    make_user(app, "sam", password="pw")
    client = VirgaClient(asgi=make_asgi(app, manage=False))
    resp = await client.http.post("/client/api", data={"command": "login", "username": "sam", "password": "pw"})
    cookie = resp.headers["set-cookie"].lower()
    assert "sessionkey=" in cookie and "httponly" in cookie and "samesite=strict" in cookie


async def test_cookie_alone_or_parameter_alone_is_refused(app: VirgaApp) -> None:
    client = await logged_in(app)
    key = client.sessionkey or ""
    assert await post(client, key, command="listZones", sessionkey=key) == 200
    assert await post(client, key, command="listZones") == 401  # the cookie alone: what a forged request has
    assert await post(client, None, command="listZones", sessionkey=key) == 401
    assert await post(client, key, command="listZones", sessionkey=key[:-1] + "x") == 401
    other = await logged_in(app, "tom")
    assert await post(client, key, command="listZones", sessionkey=other.sessionkey or "") == 401


async def test_client_sessions_keep_working(app: VirgaApp) -> None:
    client = await logged_in(app)
    assert "zone" not in await client.call("listZones")
    assert (await client.call("listUsers"))["user"][0]["username"] == "sam"


async def test_logout_ends_the_session_at_once_everywhere(app: VirgaApp) -> None:
    client = await logged_in(app)
    other_server = VirgaClient(asgi=make_asgi(app, manage=False))  # same database, another front end
    other_server.sessionkey = client.sessionkey
    other_server.http.cookies.set("sessionkey", client.sessionkey or "")
    await other_server.call("listZones")  # user and account now in the principal cache
    await client.call("logout")
    assert await code_of(other_server.call("listZones")) == 401
    assert await code_of(client.call("listZones")) == 401
    with app.db.session() as s:
        assert s.exec(select(LoginSession).where(LoginSession.sessionkey == client.sessionkey)).first() is None


async def test_logout_ends_only_that_session(app: VirgaApp) -> None:
    first = await logged_in(app)
    second = await logged_in(app)
    await first.call("logout")
    assert await code_of(second.call("listZones")) == 0


async def test_session_timeout_is_honoured_and_sliding(app: VirgaApp) -> None:
    with app.db.session() as s:
        row = s.get(Configuration, "session.timeout")
        assert row is not None and row.value == "30"
        row.value = "10"
        s.add(row)
        s.commit()
    client = await logged_in(app)
    assert (await client.call("listZones")) is not None
    with app.db.session() as s:
        sess = s.exec(select(LoginSession).where(LoginSession.sessionkey == client.sessionkey)).one()
        assert timedelta(minutes=9) < sess.expires - utcnow() <= timedelta(minutes=10)
        sess.expires = utcnow() + timedelta(minutes=2)  # used long ago: less than half the timeout left
        s.add(sess)
        s.commit()
    await client.call("listZones")
    with app.db.session() as s:
        sess = s.exec(select(LoginSession).where(LoginSession.sessionkey == client.sessionkey)).one()
        assert sess.expires - utcnow() > timedelta(minutes=9)  # extended by the call
        sess.expires = utcnow() - timedelta(seconds=1)
        s.add(sess)
        s.commit()
    assert await code_of(client.call("listZones")) == 401


async def test_wrong_passwords_lock_the_user_until_an_admin_enables_it(app: VirgaApp, admin: VirgaClient) -> None:
    make_user(app, "sam", password="right")
    sam = VirgaClient(asgi=make_asgi(app, manage=False), creds=Credentials(username="sam", password="wrong"))
    for _ in range(5):
        assert await code_of(sam.login()) == 401
    sam.creds.password = "right"
    assert await code_of(sam.login()) == 401  # locked after 5 (incorrect.login.attempts.allowed)
    with app.db.session() as s:
        user = s.exec(select(User).where(User.username == "sam")).one()
        assert user.state == "locked"
        assert s.exec(select(Event).where(Event.type == "USER.LOCK")).first() is not None
        assert s.exec(select(Alert).where(Alert.name == "USER_LOCKED")).first() is not None
    listed = await admin.call("listUsers", username="sam")
    assert listed["user"][0]["state"] == "locked"
    await admin.call("enableUser", id=listed["user"][0]["id"])
    assert (await sam.login())["username"] == "sam"


async def test_a_right_password_resets_the_count(app: VirgaApp) -> None:
    make_user(app, "sam", password="right")
    sam = VirgaClient(asgi=make_asgi(app, manage=False), creds=Credentials(username="sam", password="wrong"))
    for _ in range(3):
        for password in ("wrong", "wrong", "wrong", "wrong", "right"):
            sam.creds.password = password
            assert await code_of(sam.login()) == (0 if password == "right" else 401)


async def test_throttling_answers_429_per_account(app: VirgaApp, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(throttle, "SETTINGS_TTL", 0.0)
    throttle.THROTTLE.forget()
    alice = await client_for(app, make_user(app, "alice"))
    bob = await client_for(app, make_user(app, "bob"))
    for _ in range(40):
        await alice.call("listZones")  # off by default (api.throttling.enabled false)
    with app.db.session() as s:
        for name, value in (
            ("api.throttling.enabled", "true"),
            ("api.throttling.max", "3"),
            ("api.throttling.interval", "60"),
        ):
            row = s.get(Configuration, name)
            assert row is not None
            row.value = value
            s.add(row)
        s.commit()
    codes = [await code_of(alice.call("listZones")) for _ in range(5)]
    assert codes == [0, 0, 0, 429, 429]
    assert await code_of(bob.call("listZones")) == 0  # per account
    caps = (await bob.call("listCapabilities"))["capability"]
    assert (caps["apilimitmax"], caps["apilimitinterval"]) == (3, 60)
    throttle.THROTTLE.forget()


async def test_client_forgets_its_session_at_logout(app: VirgaApp) -> None:
    creds = make_user(app, "sam", password="pw")
    client = VirgaClient(asgi=make_asgi(app, manage=False), creds=creds)
    await client.login()
    await client.call("logout")
    assert client.sessionkey is None and not client.http.cookies
    assert isinstance(await client.call("listZones"), dict)  # signed with its API keys again
