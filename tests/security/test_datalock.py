"""One management server per embedded data directory: a second one refuses with a message saying what to do."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from virga.cli.datalock import DataDirBusy, hold

CLI = "import sys; from virga.cli.main import main; sys.exit(main())"


def test_a_second_holder_is_refused_and_the_lock_is_freed(tmp_path: Path) -> None:
    with hold("first", tmp_path):
        with pytest.raises(DataDirBusy, match=r"already runs .* \(pid \d+: first\)"), hold("second", tmp_path):
            pass
    with hold("third", tmp_path):  # freed when the first ended
        pass


def _free_port() -> int:
    """A TCP port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_virga_api_refuses_while_virga_serve_runs_on_the_data_dir(tmp_path: Path) -> None:
    env = {**os.environ, "VIRGA_DATA_DIR": str(tmp_path / "data"), "VIRGA_CONFIG_DIR": str(tmp_path / "conf")}
    env.pop("VIRGA_DB_URL", None)
    env.pop("VIRGA_KEY_FILE", None)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            time.sleep(0.2)
        second = subprocess.run(
            [sys.executable, "-c", CLI, "api", "listZones"], env=env, capture_output=True, text=True, timeout=60
        )
        assert second.returncode == 2
        assert "already runs on the data directory" in second.stderr and "--url" in second.stderr
        assert "virga serve on 127.0.0.1" in second.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)


def _env(tmp_path: Path) -> dict[str, str]:
    """The environment of a virga on its own data and config directories."""
    env = {**os.environ, "VIRGA_DATA_DIR": str(tmp_path / "data"), "VIRGA_CONFIG_DIR": str(tmp_path / "conf")}
    for var in ("VIRGA_DB_URL", "VIRGA_KEY_FILE"):
        env.pop(var, None)
    return env


def test_virga_api_talks_to_virga_serve_when_it_has_the_keys(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert subprocess.run([sys.executable, "-c", CLI, "init"], env=env, capture_output=True).returncode == 0
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert server.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        second = subprocess.run(
            [sys.executable, "-c", CLI, "api", "listZones", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 0, second.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)


async def test_a_second_virga_talks_to_the_embedded_one_through_its_socket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    import stat

    from virga.cli import embedded

    env = _env(tmp_path)
    for name in ("VIRGA_DATA_DIR", "VIRGA_CONFIG_DIR"):
        monkeypatch.setenv(name, env[name])
    async with embedded.embedded() as (_, client):  # first run: the admin's keys go to the default profile
        sock = tmp_path / "data" / embedded.SOCKET_NAME
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600
        await client.call("createDomain", name="made-by-the-first")
        second = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CLI, "api", "listDomains", "--json", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(second.communicate(), 60)
        assert second.returncode == 0, err.decode()
        assert b"made-by-the-first" in out
    assert not sock.exists()


def test_virga_init_while_virga_serve_runs_writes_only_the_database(tmp_path: Path) -> None:
    env = _env(tmp_path)  # the appliance's first boot: the server runs, then virga init makes the admin's keys
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert server.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        init = subprocess.run(
            [sys.executable, "-c", CLI, "init", "--force", "--print-json"], env=env, capture_output=True, text=True
        )
        assert init.returncode == 0, init.stderr
        keys = json.loads(init.stdout)
        ok = subprocess.run(
            [sys.executable, "-c", CLI, "--url", f"http://127.0.0.1:{port}", "api", "listZones", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert ok.returncode == 0, ok.stderr  # the running server knows the keys init wrote
        assert keys["apikey"]
    finally:
        server.terminate()
        server.wait(timeout=30)
