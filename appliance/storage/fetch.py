"""One HTTP(S) transfer into a staging file, driven through `curl` (a subprocess) for throughput.

curl writes the body straight into the staging file (`-o`, `-C <offset>` to append when resuming), so no
body byte crosses Python; the response headers (`-D -`, every block through redirects) come on its stdout,
which the event loop parses to check the status and save the resume validators (ETag/Last-Modified) as soon
as they arrive. Progress is the file's size, polled. With a checksum a Follower thread (follow.py) hashes the
file from byte 0 as it grows, on the other core. Resuming sends `Range` + `If-Range`; a 200 answer restarts
from byte 0. Stalls are curl's `--speed-limit 1 --speed-time N`.
"""

from __future__ import annotations

import asyncio
import contextlib

from .checksum import Checksum
from .errors import DownloadHTTPError, DownloadStalled, DownloadTruncated
from .follow import Follower
from .landing import Progress, report
from .staging import Staged, TransferState
from .tools import need_tool

HEADER_LIMIT = 64 << 10
REDIRECTS = (301, 302, 303, 307, 308)
CURL_STALLED, CURL_PARTIAL, CURL_RANGE, CURL_RECV = 28, 18, 33, 56
POLL = 0.2


class Response:
    """The final response's status and headers (lower-cased names)."""

    def __init__(self, status: int, reason: str, headers: dict[str, str]) -> None:
        self.status, self.reason, self.headers = status, reason, headers


class _Restart(Exception):
    """The server ignored the Range (200): start again from byte 0."""


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
        self,
        url: str,
        staged: Staged,
        state: TransferState,
        expected: Checksum | None,
        progress: Progress | None,
        stall: float,
        connect: float,
        verify_tls: bool,
    ) -> None:
        self.url, self.staged, self.state, self.expected, self.progress = url, staged, state, expected, progress
        self.stall, self.connect, self.verify_tls = stall, connect, verify_tls
        self.done = 0
        self.total: int | None = None

    def argv(self, offset: int) -> list[str]:
        """The curl command line (headers on stdout, body into the staging file)."""
        # setpriv --pdeathsig: curl dies with us, so an orphaned curl never keeps writing the staging file
        argv = [
            need_tool("setpriv", "util-linux"),
            "--pdeathsig",
            "KILL",
            need_tool("curl", "curl"),
            "-sS",
            "-L",
            "--max-redirs",
            "10",
            "-D",
            "-",
            "-o",
            str(self.staged.part),
            "--proto",
            "=http,https",
            "--proto-redir",
            "=http,https",
            "-A",
            "virga-storage/1",
            "--connect-timeout",
            f"{self.connect:g}",
            "--speed-limit",
            "1",
            "--speed-time",
            str(max(1, round(self.stall))),
        ]
        if not self.verify_tls:
            argv.append("-k")
        if offset:
            argv += ["-C", str(offset)]  # curl sends Range: bytes=<offset>- and appends to the file
            validator = self.state.etag or self.state.last_modified
            if validator:
                argv += ["-H", f"If-Range: {validator}"]
        return [*argv, "--", self.url]

    async def run(self) -> str | None:
        """Run curl to the end of the body; typed errors for every failure; cancellation keeps what arrived."""
        offset = self.staged.offset if self.state.etag or self.state.last_modified else 0
        try:
            return await self._attempt(offset)
        except _Restart:
            return await self._attempt(0)

    async def _attempt(self, offset: int) -> str | None:
        """One curl run appending from offset (0: a fresh file); the digest of the whole file."""
        if not offset:  # curl creates it: truncating an existing file makes ext4 flush it on close (auto_da_alloc)
            self.staged.part.unlink(missing_ok=True)
        self.done = offset
        follower = Follower(self.staged.part, self.expected) if self.expected else None
        try:
            await self._curl(offset)
        except BaseException:
            if follower is not None:
                await follower.stop()
            raise
        return await follower.digest() if follower is not None else None

    async def _curl(self, offset: int) -> None:
        """Start curl, read its headers, report progress until it exits, map its exit status."""
        proc = await asyncio.create_subprocess_exec(
            *self.argv(offset),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=HEADER_LIMIT,
        )
        assert proc.stdout is not None and proc.stderr is not None
        errors = asyncio.ensure_future(proc.stderr.read())
        try:
            resp = await self._head(proc.stdout)
            if resp is not None:
                self._start(resp, offset)
            await self._watch(proc, resp is not None)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await asyncio.shield(proc.wait())
            errors.cancel()
            raise
        err = (await errors).decode(errors="replace").strip()
        if resp is not None and not self.staged.part.exists():  # an empty body: curl wrote no file
            self.staged.part.touch()
        self._check_exit(proc.returncode or 0, err, resp)

    async def _head(self, out: asyncio.StreamReader) -> Response | None:
        """Read header blocks (following redirects) up to the final response; None when curl sent none."""
        while True:
            try:
                block = await out.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as exc:
                if exc.partial.strip():
                    raise DownloadTruncated(f"download of {self.url} ended inside the response headers") from None
                return None
            except asyncio.LimitOverrunError:
                raise DownloadHTTPError(f"{self.url} sent response headers longer than {HEADER_LIMIT} bytes") from None
            resp = parse_head(block[:-4])
            if not ((resp.status in REDIRECTS and "location" in resp.headers) or resp.status == 100):
                return resp

    def _start(self, resp: Response, offset: int) -> None:
        """Check the status, note the length and save the resume validators; _Restart on a 200 to a Range."""
        if resp.status == 416 and offset and self.state.total == offset:
            self.total = offset
            return
        if resp.status == 200 and offset:
            raise _Restart()
        if not (resp.status == 200 or (resp.status == 206 and offset and _range_start(resp) == offset)):
            raise DownloadHTTPError(f"{self.url} answered HTTP {resp.status} {resp.reason}".rstrip())
        length = resp.headers.get("content-length")
        self.total = offset + int(length) if length and length.isdigit() else None
        self.state.etag = resp.headers.get("etag")
        self.state.last_modified = resp.headers.get("last-modified")
        self.state.total = self.total
        self.staged.save(self.state)

    async def _watch(self, proc: asyncio.subprocess.Process, answered: bool) -> None:
        """Report the staging file's size (at the start, then at most 5 times a second) until curl exits."""
        exited = asyncio.ensure_future(proc.wait())
        first, shown = True, -1
        try:
            while True:
                finished, _ = await asyncio.wait([exited], timeout=0 if first else POLL)
                first, self.done = False, self.staged.offset
                if answered and self.total is not None and self.done != shown:
                    shown = self.done
                    await report(self.progress, self.done, self.total)
                if finished:
                    if answered and self.total is None:
                        await report(self.progress, self.done, self.done)
                    return
        finally:
            exited.cancel()

    def _check_exit(self, rc: int, err: str, resp: Response | None) -> None:
        """Map curl's exit status and a short body to typed errors."""
        if rc == CURL_STALLED and resp is not None:
            raise DownloadStalled(
                f"download of {self.url} stalled: no data for {self.stall:g}s after {self.done} bytes"
            )
        if rc in (CURL_PARTIAL, CURL_RECV) or (rc == 0 and self.total is not None and self.done != self.total):
            raise DownloadTruncated(
                f"download of {self.url} was cut off after {self.done} of "
                f"{self.total or '?'} bytes" + (f" ({err})" if err else "")
            )
        if rc != 0:
            raise DownloadHTTPError(f"cannot download {self.url}: curl exit {rc}: {err or 'no message'}")
        if resp is None:
            raise DownloadHTTPError(f"cannot download {self.url}: no HTTP response")


def _range_start(resp: Response) -> int | None:
    """First byte of a 206 response's Content-Range."""
    value = resp.headers.get("content-range", "")
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None
