"""Drive a real terminal program in a private tmux server: send keys, read the screen, wait with a deadline."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

VENV_BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"


def virga_cmd() -> str:
    """The `virga` console script of this checkout (falls back to the one on PATH)."""
    local = VENV_BIN / "virga"
    return str(local) if local.exists() else (shutil.which("virga") or "virga")


def free_port() -> int:
    """A TCP port on the loopback that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ScreenTimeout(AssertionError):
    """The screen did not show what was expected before the deadline (carries the last screen)."""


class Tmux:
    """One private tmux server (its own socket) running one command in a window of a fixed size."""

    def __init__(self, width: int = 132, height: int = 42) -> None:
        """Pick a unique socket name so parallel tests never share a server."""
        self.socket = f"virga-e2e-{uuid.uuid4().hex[:10]}"
        self.width, self.height = width, height
        self.started = False

    def _tmux(self, *args: str, check: bool = True) -> str:
        """Run one tmux command against this server."""
        out = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=20)
        if check and out.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)} failed: {out.stderr.strip()}")
        return out.stdout

    def start(self, argv: list[str], env: dict[str, str]) -> None:
        """Start argv in the window; its exit code is printed as `EXIT=<n>` and the window stays."""
        line = " ".join(shlex.quote(a) for a in argv)
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        shell = f"env {exports} {line}; echo EXIT=$?; sleep 600"
        self._tmux(
            "new-session",
            "-d",
            "-s",
            "main",
            "-x",
            str(self.width),
            "-y",
            str(self.height),
            "env",
            "-u",
            "COLUMNS",
            "-u",
            "LINES",
            "TERM=xterm-256color",
            "COLORTERM=truecolor",
            "sh",
            "-c",
            shell,
        )
        self.started = True

    def keys(self, *keys: str, pace: float = 0.0) -> None:
        """Send tmux key names (Enter, Escape, C-n, Tab, Down...), `pace` seconds apart like a typist."""
        if not pace:
            self._tmux("send-keys", "-t", "main", *keys)
            return
        for key in keys:
            self._tmux("send-keys", "-t", "main", key)
            time.sleep(pace)

    def type(self, text: str) -> None:
        """Type literal text and wait until it shows (so the next key cannot overtake it)."""
        self._tmux("send-keys", "-t", "main", "-l", text)
        self.wait(re.escape(text), 10, f"the typed text {text!r}")

    def cursor(self) -> tuple[int, int]:
        """Where the terminal cursor is (Textual keeps it on the focused input, even hidden)."""
        x, y = self._tmux("display", "-p", "-t", "main", "#{cursor_x} #{cursor_y}").split()
        return int(x), int(y)

    def focus_input(self, tabs: int = 1, timeout: float = 10.0) -> None:
        """Press Tab `tabs` times to reach a text input, waiting until the cursor lands in it."""
        before = self.cursor()
        self.keys(*["Tab"] * tabs, pace=0.3)
        end = time.monotonic() + timeout
        while self.cursor() == before:
            if time.monotonic() > end:
                raise ScreenTimeout(f"the focus never reached the next input; screen:\n{self.screen()}")
            time.sleep(0.1)

    def screen(self) -> str:
        """The visible screen as text."""
        return self._tmux("capture-pane", "-p", "-t", "main")

    def wait(self, cond: str | Callable[[str], object], timeout: float = 30.0, what: str = "") -> str:
        """Poll the screen until it contains cond (a regex) or cond(screen) is true; the matching screen."""
        test = (lambda s: re.search(cond, s)) if isinstance(cond, str) else cond
        end = time.monotonic() + timeout
        text = ""
        while time.monotonic() < end:
            text = self.screen()
            if test(text):
                return text
            time.sleep(0.15)
        raise ScreenTimeout(f"screen never showed {what or cond!r} within {timeout:.0f}s; last screen:\n{text}")

    def close(self) -> None:
        """Kill this tmux server and everything running in it."""
        if self.started:
            self._tmux("kill-server", check=False)
            self.started = False


def clean_env(data: Path, config: Path) -> dict[str, str]:
    """Environment pointing virga at private data/config dirs (the user's own are never touched)."""
    return {
        "VIRGA_DATA_DIR": str(data),
        "VIRGA_CONFIG_DIR": str(config),
        "XDG_DATA_HOME": str(data),
        "XDG_CONFIG_HOME": str(config),
        "HOME": os.environ.get("HOME", "/tmp"),
        "VIRGA_SYNC_INTERVAL": "3600",
    }
