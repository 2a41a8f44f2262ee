"""One management server per embedded data directory: a second one refuses with a message saying what to do."""

from __future__ import annotations

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
