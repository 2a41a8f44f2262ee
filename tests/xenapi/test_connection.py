"""Logging in: credentials, unreachable masters, TLS verification, following the pool master."""

from __future__ import annotations

import socket

import pytest
from virga.drivers.base import AuthenticationFailed, HostConnection, HostUnreachable
from virga.drivers.xenapi import XenAPIDriver

from tests.fakes.xapi import FakeXapi
from tests.xenapi.conftest import conn


async def test_wrong_password(fake: FakeXapi) -> None:
    drv = XenAPIDriver(HostConnection(url=fake.url, username="root", password="wrong"))
    with pytest.raises(AuthenticationFailed, match="SESSION_AUTHENTICATION_FAILED"):
        await drv.connect()


async def test_unreachable_endpoint() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    drv = XenAPIDriver(HostConnection(url=f"http://127.0.0.1:{port}/", username="root", password="password"))
    with pytest.raises(HostUnreachable, match="cannot reach XenServer"):
        await drv.connect()


async def test_self_signed_certificate_is_refused_by_default(tls_fake: FakeXapi) -> None:
    assert tls_fake.url.startswith("https://")
    drv = XenAPIDriver(HostConnection(url=tls_fake.url, username="root", password="password"))
    with pytest.raises(HostUnreachable, match="could not be verified .*verify_ssl=false"):
        await drv.connect()


async def test_verify_ssl_false_skips_verification(tls_fake: FakeXapi) -> None:
    drv = XenAPIDriver(conn(tls_fake, verify_ssl="false"))
    assert (await drv.connect()).name == "xs1"
    await drv.close()


async def test_ca_file_trusts_the_certificate(tls_fake: FakeXapi) -> None:
    drv = XenAPIDriver(conn(tls_fake, ca_file=tls_fake.cert))  # type: ignore[attr-defined]
    assert (await drv.connect()).name == "xs1"
    await drv.close()


async def test_login_on_a_slave_follows_to_the_master(fake: FakeXapi) -> None:
    with FakeXapi(fake.db, master_address=fake.address) as slave:
        drv = XenAPIDriver(HostConnection(url=slave.url, username="root", password="password"))
        facts = await drv.connect()
        assert facts.name == "xs1" and drv.xapi.url == fake.url
        assert "session.login_with_password" in slave.calls
        await drv.close()


async def test_master_change_mid_session_is_followed(fake: FakeXapi) -> None:
    drv = XenAPIDriver(conn(fake))
    await drv.connect()
    with FakeXapi(fake.db) as new_master:
        fake.master_address = new_master.address  # the old master is now a slave
        assert len(await drv.list_instances()) == 0
        assert drv.xapi.url == new_master.url
        assert "session.login_with_password" in new_master.calls
        await drv.ping()
    await drv.close()
