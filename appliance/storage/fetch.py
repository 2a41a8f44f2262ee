"""One HTTP(S) transfer into a staging file, driven through `curl` (a subprocess) for throughput.

curl writes the response headers (`-D -`) then the body to its stdout; a worker thread parses the header
block(s), checks the status, then writes and hashes the body as it comes (the GIL is released by read,
write and hashlib on 1 MiB blocks), while the event loop only reports progress. Resuming sends
`Range` + `If-Range`; a 200 answer restarts from 0. Stalls are curl's `--speed-limit 1 --speed-time N`.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import subprocess
from typing import Any

from .checksum import Checksum
from .errors import DownloadHTTPError, DownloadStalled, DownloadTruncated
from .landing import Progress, report
from .staging import Staged, TransferState
from .tools import need_tool

BLOCK = 1 << 20
HEADER_LIMIT = 64 << 10
REDIRECTS = (301, 302, 303, 307, 308)
CURL_STALLED, CURL_PARTIAL, CURL_RECV = 28, 18, 56


class Response:
    """The final response's status and headers (lower-cased names)."""

    def __init__(self, status: int, reason: str, headers: dict[str, str]) -> None:
        self.status, self.reason, self.headers = status, reason, headers


def parse_head(block: bytes) -> Response:
    """Status line and headers of one header block (pure)."""
    lines = block.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    try:
        status = int(parts[1])
    except (IndexError, ValueError):
        raise DownloadHTTPError(f"unreadable HTTP status line {lines[0]!r}") from None
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return Response(status, parts[2] if len(parts) > 2 else "", headers)


class Fetch:
    """Fetch the rest of a staged transfer; run() returns the hex digest (None without a checksum)."""

    def __init__(
        self, url: str, staged: Staged, state: TransferState, expected: Checksum | None, progress: Progress | None,
        stall: float, connect: float, verify_tls: bool,
    ) -> None:
        self.url, self.staged, self.state, self.expected, self.progress = url, staged, state, expected, progress
        self.stall, self.connect, self.verify_tls = stall, connect, verify_tls
        self.hasher: Any = None
        self.done = 0
        self.total: int | None = None
        self.begin = 0

    def argv(self, offset: int) -> list[str]:
        """The curl command line (headers then body on stdout)."""
        argv = [need_tool("curl", "curl"), "-sS", "-L", "--max-redirs", "10", "-D", "-",
                "--proto", "=http,https", "--proto-redir", "=http,https", "-A", "virga-storage/1",
                "--connect-timeout", f"{self.connect:g}", "--speed-limit", "1",
                "--speed-time", str(max(1, round(self.stall)))]
        if not self.verify_tls:
            argv.append("-k")
        if offset:
            argv += ["-H", f"Range: bytes={offset}-"]
            validator = self.state.etag or self.state.last_modified
            if validator:
                argv += ["-H", f"If-Range: {validator}"]
        return [*argv, "--", self.url]

    async def run(self) -> str | None:
        """Run curl to the end of the body; typed errors for every failure; cancellation keeps what arrived."""
        offset = self.staged.offset if self.state.etag or self.state.last_modified else 0
        if offset and self.expected:
            self.hasher = await asyncio.to_thread(_rehash, str(self.staged.part), self.expected)
        elif self.expected:
            self.hasher = self.expected.new()
        proc = subprocess.Popen(self.argv(offset), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, bufsize=0)
        assert proc.stdout is not None and proc.stderr is not None
        _grow_pipe(proc.stdout.fileno())
        self.loop, self.started = asyncio.get_running_loop(), asyncio.Event()
        worker = self.loop.run_in_executor(None, self._transfer, proc.stdout.fileno(), offset)
        resp = None
        try:
            resp = await self._watch(worker)
        finally:
            if resp is None and proc.poll() is None:  # failed or cancelled: stop curl now
                proc.kill()
            await asyncio.wait([worker])  # the thread sees EOF and flushes what it has
            rc = await asyncio.to_thread(proc.wait)
            err = proc.stderr.read().decode(errors="replace").strip()
            proc.stdout.close()
            proc.stderr.close()
        self._check_exit(rc, err, resp)
        return self.hasher.hexdigest() if self.hasher else None

    async def _watch(self, worker: asyncio.Future[Response | None]) -> Response | None:
        """Report progress from the event loop (at the start, then at most 5 times a second) until the thread ends."""
        started = asyncio.ensure_future(self.started.wait())
        try:
            await asyncio.wait([worker, started], return_when=asyncio.FIRST_COMPLETED)  # type: ignore[type-var]
        finally:
            started.cancel()
        shown = -1
        if self.started.is_set() and self.total is not None:
            shown = self.begin
            await report(self.progress, self.begin, self.total)
        while True:
            finished, _ = await asyncio.wait([worker], timeout=0.2)
            if self.total is not None and self.done != shown:
                shown = self.done
                await report(self.progress, self.done, self.total)
            if finished:
                resp = worker.result()
                if resp is not None and self.total is None:
                    await report(self.progress, self.done, self.done)
                return resp

    def _transfer(self, fd: int, offset: int) -> Response | None:
        """In a thread: read the headers, then write and hash the body as it comes (all release the GIL)."""
        rest = bytearray()
        resp = self._head(fd, rest)
        start = self._start(resp, offset) if resp is not None else None
        if start is None:
            return resp
        self.loop.call_soon_threadsafe(self.started.set)
        with open(self.staged.part, "r+b" if start else "wb") as f:
            f.truncate(start)
            f.seek(start)
            # The header read may have caught no body byte yet (headers and body in separate writes).
            data: bytes = bytes(rest) or os.read(fd, BLOCK)
            while data:  # hashing inline: a separate hashing thread measured slower on this loaded 2-core box
                f.write(data)
                if self.hasher is not None:
                    self.hasher.update(data)
                self.done += len(data)
                data = os.read(fd, BLOCK)
        return resp

    def _head(self, fd: int, rest: bytearray) -> Response | None:
        """Read header blocks (following redirects) up to the final response; body bytes read early go to rest."""
        buf = bytearray()
        while True:
            while (end := buf.find(b"\r\n\r\n")) < 0:
                if len(buf) > HEADER_LIMIT:
                    raise DownloadHTTPError(f"{self.url} sent response headers longer than {HEADER_LIMIT} bytes")
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    if buf.strip():
                        raise DownloadTruncated(f"download of {self.url} ended inside the response headers")
                    return None
                buf += chunk
            resp = parse_head(bytes(buf[:end]))
            del buf[: end + 4]
            if not ((resp.status in REDIRECTS and "location" in resp.headers) or resp.status == 100):
                rest += buf
                return resp

    def _start(self, resp: Response, offset: int) -> int | None:
        """Check the status; the offset to write from, or None when the file is already complete."""
        if resp.status == 416 and offset and self.state.total == offset:
            self.done = self.total = offset
            return None
        if resp.status == 206 and offset and _range_start(resp) == offset:
            pass
        elif resp.status == 200:
            offset = 0
            if self.expected:
                self.hasher = self.expected.new()
        else:
            raise DownloadHTTPError(f"{self.url} answered HTTP {resp.status} {resp.reason}".rstrip())
        length = resp.headers.get("content-length")
        self.total = offset + int(length) if length and length.isdigit() else None
        self.done = self.begin = offset
        self.state.etag = resp.headers.get("etag")
        self.state.last_modified = resp.headers.get("last-modified")
        self.state.total = self.total
        self.staged.save(self.state)
        return offset

    def _check_exit(self, rc: int, err: str, resp: Response | None) -> None:
        """Map curl's exit status and a short body to typed errors."""
        if rc == CURL_STALLED and resp is not None:
            raise DownloadStalled(f"download of {self.url} stalled: no data for {self.stall:g}s "
                                  f"after {self.done} bytes")
        if rc in (CURL_PARTIAL, CURL_RECV) or (rc == 0 and self.total is not None and self.done != self.total):
            raise DownloadTruncated(f"download of {self.url} was cut off after {self.done} of "
                                    f"{self.total or '?'} bytes" + (f" ({err})" if err else ""))
        if rc != 0:
            raise DownloadHTTPError(f"cannot download {self.url}: curl exit {rc}: {err or 'no message'}")
        if resp is None:
            raise DownloadHTTPError(f"cannot download {self.url}: no HTTP response")


def _grow_pipe(fd: int) -> None:
    """Ask for a 1 MiB pipe buffer (fewer wake-ups per byte); the default 64 KiB works too."""
    try:
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), BLOCK)
    except OSError:
        pass


def _range_start(resp: Response) -> int | None:
    """First byte of a 206 response's Content-Range."""
    value = resp.headers.get("content-range", "")
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def _rehash(path: str, expected: Checksum) -> Any:
    """A hasher fed with the partial file already on disk."""
    h = expected.new()
    with open(path, "rb") as f:
        while data := f.read(BLOCK):
            h.update(data)
    return h
