"""HTTPS: `virga serve --tls` with the certificate `virga init` made; clients trust a CA file or a pinned one."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from virga.client import Credentials, VirgaClient

CLI = "import sys; from virga.cli.main import main; sys.exit(main())"


def _free_port() -> int:
    """A TCP port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """virga init, then virga serve --tls on a loopback port; its URL, admin keys, certificate and fingerprint."""
    env = {**os.environ, "VIRGA_DATA_DIR": str(tmp_path / "data"), "VIRGA_CONFIG_DIR": str(tmp_path / "conf")}
    for var in ("VIRGA_DB_URL", "VIRGA_KEY_FILE"):
        env.pop(var, None)
    init = subprocess.run([sys.executable, "-c", CLI, "init", "--print-json"], env=env, capture_output=True, text=True)
    assert init.returncode == 0, init.stderr
    made = json.loads(init.stdout)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", CLI, "serve", "--tls", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        line = server.stderr.readline()
        assert "serving https://127.0.0.1" in line, line
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert server.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        yield {
            "url": f"https://127.0.0.1:{port}/client/api",
            "creds": Credentials(apikey=made["apikey"], secretkey=made["secretkey"]),
            "cert": str(tmp_path / "conf" / "tls" / "server.crt"),
            "fingerprint": line.rsplit("certificate ", 1)[1].strip(),
            "env": env,
        }
    finally:
        server.terminate()
        server.wait(timeout=30)


async def _zones(url: str, creds: Credentials) -> dict[str, Any]:
    """listZones over the wire."""
    client = VirgaClient(url, creds)
    try:
        return await client.call("listZones")
    finally:
        await client.close()


async def test_https_with_the_init_certificate(served: dict[str, Any]) -> None:
    url, creds = served["url"], served["creds"]
    key = Path(served["cert"]).with_name("server.key")
    assert key.stat().st_mode & 0o777 == 0o600
    assert served["fingerprint"].startswith("SHA256:") and served["fingerprint"].count(":") == 32
    with pytest.raises(httpx.ConnectError):  # self-signed: not trusted by default
        await _zones(url, creds)
    creds.cafile = served["cert"]
    assert isinstance(await _zones(url, creds), dict)
    creds.cafile, creds.fingerprint = "", served["fingerprint"]
    assert isinstance(await _zones(url, creds), dict)
    creds.fingerprint = "SHA256:" + ":".join(["00"] * 32)
    with pytest.raises(ssl.SSLError, match="not the pinned"):
        await _zones(url, creds)
    with pytest.raises(httpx.HTTPError):  # plain HTTP to the TLS port
        await _zones(url.replace("https", "http"), Credentials(apikey=creds.apikey, secretkey=creds.secretkey))


def test_profile_keeps_the_ca_file_and_the_pin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from virga.cli import profiles
    from virga.cli.main import main

    monkeypatch.setenv("VIRGA_CONFIG_DIR", str(tmp_path))
    args = [
        "profile",
        "add",
        "lab",
        "https://127.0.0.1:8443",
        "K",
        "S",
        "--cafile",
        "ca.pem",
        "--fingerprint",
        "SHA256:AB",
    ]
    assert main(args) == 0
    url, creds = profiles.get("lab")
    assert url == "https://127.0.0.1:8443" and creds.fingerprint == "SHA256:AB"
    assert creds.cafile == os.path.abspath("ca.pem")


def test_the_cli_and_tui_flags_pin_the_certificate(served: dict[str, Any]) -> None:
    base = [sys.executable, "-c", CLI, "--url", served["url"]]
    good = subprocess.run(
        [*base, "--fingerprint", served["fingerprint"], "api", "listZones", "--json"],
        env=served["env"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert good.returncode == 0, good.stderr
    by_ca = subprocess.run(
        [*base, "--cafile", served["cert"], "api", "listZones", "--json"],
        env=served["env"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert by_ca.returncode == 0, by_ca.stderr
    bad = subprocess.run(
        [*base, "--fingerprint", "SHA256:" + ":".join(["AB"] * 32), "api", "listZones"],
        env=served["env"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "not the pinned" in bad.stderr and "Traceback" not in bad.stderr
