"""The appliance's first-boot template download: a server that sends the headers before the body.

On the appliance (a slow VM) Python's http.server writes the response headers and the body in separate
writes, so curl hands the headers to the fetch thread alone; the body must still be read (this hung the
first boot forever with curl blocked on a full pipe).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from virga.appliance.storage.checksum import parse_checksum
from virga.appliance.storage.fetch import Fetch
from virga.appliance.storage.staging import Staged, TransferState

from tests.support import need

BODY = bytes(range(256)) * 4096  # 1 MiB: larger than a default pipe buffer


def _serve_once(sock: socket.socket) -> None:
    """Answer one GET: the header block, a pause, then the body."""
    conn, _ = sock.accept()
    with conn:
        conn.recv(65536)
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {len(BODY)}\r\nConnection: close\r\n\r\n".encode())
        time.sleep(0.5)
        conn.sendall(BODY)


def _kill_our_curls() -> None:
    """Kill the curl processes this test process started (a hung transfer's)."""
    me = str(os.getpid())
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().split()
        except OSError:
            continue
        if fields[1] == "(curl)" and fields[3] == me:
            os.kill(int(fields[0]), signal.SIGKILL)


@pytest.fixture
def split_server() -> Iterator[str]:
    """A one-shot HTTP server on loopback that sends headers and body apart; yields its URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    thread = threading.Thread(target=_serve_once, args=(sock,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/virga-tiny.qcow2"
    finally:
        sock.close()
        thread.join(timeout=5)


async def test_body_arriving_after_the_headers_is_downloaded(split_server: str, tmp_path: Path) -> None:
    """The whole body lands in the staging file and its digest matches."""
    need(shutil.which("curl"), "curl (apt install curl)")
    staged = Staged.for_transfer(tmp_path, split_server, "template/tmpl/1/1/x.qcow2")
    expected = parse_checksum(hashlib.sha256(BODY).hexdigest())
    fetch = Fetch(
        split_server,
        staged,
        TransferState(url=split_server, dest_path="x"),
        expected,
        None,
        stall=10,
        connect=5,
        verify_tls=True,
    )
    task = asyncio.ensure_future(fetch.run())
    done, _ = await asyncio.wait({task}, timeout=30)
    if not done:
        _kill_our_curls()  # unblock the hung transfer so the test ends instead of hanging
        await asyncio.wait({task}, timeout=10)
        pytest.fail("the download hung: the body after a separate header write was never read")
    digest = task.result()
    assert staged.part.read_bytes() == BODY
    assert digest == hashlib.sha256(BODY).hexdigest()
