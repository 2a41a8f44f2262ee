"""`virga web`: textual-serve on a loopback port serves the page, a browser session runs the TUI, Ctrl-C stops it."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.tmux import clean_env, free_port, virga_cmd

ANSI = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[@-_][0-?]*[ -/]*[@-~]?")


@pytest.fixture(params=[[], ["--readonly"]], ids=["embedded", "readonly"])
def web(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`virga [flags] web` on a free port with private data/config dirs; killed at the end if still running."""
    env = {**os.environ, **clean_env(tmp_path / "data", tmp_path / "config")}
    port = free_port()
    argv = [virga_cmd(), *request.param, "web", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc, f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def group_alive(pgid: int) -> bool:
    """Whether any process of the group is left."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_page(proc: subprocess.Popen[bytes], url: str, timeout: float = 60.0) -> httpx.Response:
    """GET the page once the server listens (fails if the process dies first)."""
    end = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url + "/", timeout=5)
        except httpx.TransportError:
            if proc.poll() is not None:
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise AssertionError(f"virga web exited with {proc.returncode}: {out}") from None
            if time.monotonic() > end:
                raise
            time.sleep(0.2)


async def session_screen(ws_url: str, want: str, timeout: float = 90.0) -> str:
    """Open a browser session's websocket and collect the TUI's output until it shows `want`."""
    import aiohttp

    text = ""
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url + "?width=120&height=40") as ws:
        await ws.send_json(["resize", {"width": 120, "height": 40}])
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while want not in text:
            left = end - loop.time()
            if left <= 0:
                raise AssertionError(f"the browser session never showed {want!r}; got:\n{text[-2000:]}")
            msg = await ws.receive(timeout=left)
            if msg.type == aiohttp.WSMsgType.BINARY:
                text += ANSI.sub("", msg.data.decode("utf-8", "replace"))
            elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                raise AssertionError(f"the session closed before showing {want!r}; got:\n{text[-2000:]}")
    return text


def test_web_serves_the_tui_and_stops_cleanly(web: tuple[subprocess.Popen[bytes], str]) -> None:
    """The page names the app and its websocket; a session runs the real TUI (the wizard); SIGINT stops all."""
    proc, url = web
    page = wait_page(proc, url)
    assert page.status_code == 200
    assert "<title>virga</title>" in page.text or "virga" in page.text
    ws = re.search(r"ws://127\.0\.0\.1:\d+/ws", page.text)
    assert ws, page.text[:2000]
    # the flags reach each session's TUI: read-only shows in the header, else the first-run wizard opens
    want = "read-only" if "--readonly" in proc.args else "Step 1: What to build"  # type: ignore[operator]
    screen = asyncio.run(session_screen(ws.group(0), want))
    assert "virga" in screen and "Traceback" not in screen
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    end = time.monotonic() + 10
    while group_alive(proc.pid):  # the session's TUI process goes with the server
        assert time.monotonic() < end, "a TUI process of the browser session outlived `virga web`"
        time.sleep(0.1)
    with pytest.raises(httpx.TransportError):
        httpx.get(url + "/", timeout=2)
