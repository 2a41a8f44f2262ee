"""One healer per host: with the router supervisor unit, the server's own router health loop stays off."""

from __future__ import annotations

import configparser
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import virga.services.routing as routing
from virga.config import Settings
from virga.core import VirgaApp
from virga.services.monitor import start_monitors

from tests.appliance.helpers import REPO

UNITS = REPO / "appliance" / "systemd"


def scheduled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, supervisor: bool) -> list[str]:
    """The names of the coroutine functions the server's monitors would run each round."""
    app = VirgaApp(Settings(db_url=f"sqlite:///{tmp_path / 'virga.db'}", router_supervisor=supervisor))
    loops: list[Callable[[], Awaitable[None]]] = []
    monkeypatch.setattr(app, "every", lambda seconds, fn: loops.append(fn))

    async def fake_check_routers(app: VirgaApp) -> None:
        """Stands in for the router health check."""

    monkeypatch.setattr(routing, "check_routers", fake_check_routers)
    start_monitors(app)
    names = []
    for fn in loops:
        coro = fn()
        names.append(coro.cr_code.co_name)  # type: ignore[attr-defined]
        coro.close()  # type: ignore[attr-defined]
    app.db.dispose()
    return names


def test_server_heals_routers_without_a_supervisor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "fake_check_routers" in scheduled(tmp_path, monkeypatch, supervisor=False)


def test_server_leaves_routers_to_the_supervisor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    names = scheduled(tmp_path, monkeypatch, supervisor=True)
    assert "fake_check_routers" not in names and "sync_all" in names


def unit(name: str) -> configparser.ConfigParser:
    """A systemd unit file parsed (repeated keys keep the last value)."""
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str  # type: ignore[assignment,method-assign]
    cp.read(UNITS / name)
    return cp


def test_supervisor_unit_runs_after_the_server_and_the_server_defers_to_it() -> None:
    router, server, host = unit("virga-router.service"), unit("virga-server.service"), unit("virga-router-host.service")
    assert router["Service"]["Type"] == "simple"
    assert router["Service"]["ExecStart"].endswith("-m virga.appliance.router")
    assert "virga-server.service" in router["Unit"]["After"].split()
    assert router["Service"]["KillMode"] == "process"
    assert "Environment=VIRGA_ROUTER_SUPERVISOR=1" in (UNITS / "virga-server.service").read_text().splitlines()
    assert "virga-router.service" in server["Unit"]["Wants"].split()
    assert host["Service"]["Type"] == "oneshot" and "sysctl" in (UNITS / "virga-router-host.service").read_text()
    assert "virga-server.service" in host["Unit"]["Before"].split()


def test_the_setting_is_read_from_the_environment() -> None:
    code = "from virga.config import Settings; print(Settings().router_supervisor)"
    for value, expected in (("1", "True"), ("", "False"), ("0", "False")):
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"VIRGA_ROUTER_SUPERVISOR": value, "HOME": "/tmp"},
        ).stdout.strip()
        assert out == expected, value
