"""The template/ISO download job body: resumable HTTP(S) fetch to staging, verify, land on the store."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from .checksum import Checksum, file_digest, parse_checksum
from .errors import (
    DownloadError,
    DownloadHTTPError,
    DownloadStalled,
    DownloadTruncated,
    StorageError,
    StoreFileExists,
)
from .imagestore import ImageStore
from .landing import Progress, StoredImage, land, report
from .staging import Staged, TransferState, staging_root

_CHUNK = 4 << 20


async def download(
    url: str, store: ImageStore, dest_path: str, checksum: str | None = None, expected_format: str | None = None,
    progress: Progress | None = None, resume: bool = True, *, stall_timeout: float = 60.0,
    connect_timeout: float = 30.0, staging_dir: str | None = None, verify_tls: bool = True,
) -> StoredImage:
    """Download url into dest_path on the store; on failure nothing partial is kept and a typed error is raised.

    Cancellation (a stopping management server) keeps the partial file and its state so that a later call
    with resume=True continues with an HTTP Range request; use discard_staging() to abandon it instead.
    """
    expected = parse_checksum(checksum)
    if not url.lower().startswith(("http://", "https://")):
        raise DownloadError(f"only http(s) URLs can be downloaded, not {url!r}")
    if await store.exists(dest_path):
        raise StoreFileExists(f"{dest_path} already exists on the store; refusing to overwrite it")
    staged = Staged.for_transfer(staging_root(staging_dir), url, dest_path)
    state = staged.load(url, dest_path) if resume else None
    if state is None:
        staged.discard()
        state = TransferState(url=url, dest_path=dest_path)
    try:
        fetch = _Fetch(url, staged, state, expected, progress, stall_timeout, connect_timeout, verify_tls)
        digest = await fetch.run()
        result = await land(staged, store, dest_path, expected, digest, expected_format)
    except asyncio.CancelledError:
        raise
    except StorageError:
        staged.discard()
        raise
    except OSError as exc:
        staged.discard()
        raise DownloadError(f"download of {url} failed writing the staging file: {exc}") from exc
    except BaseException:
        staged.discard()
        raise
    staged.discard()
    return result


class _Fetch:
    """One HTTP transfer into the staging file, resuming from its current length when allowed."""

    def __init__(
        self, url: str, staged: Staged, state: TransferState, expected: Checksum | None, progress: Progress | None,
        stall: float, connect: float, verify_tls: bool,
    ) -> None:
        self.url, self.staged, self.state, self.expected, self.progress = url, staged, state, expected, progress
        self.stall, self.verify_tls = stall, verify_tls
        self.timeout = httpx.Timeout(connect=connect, read=stall, write=stall, pool=connect)
        self.hasher: Any = None
        self.done = 0
        self.total: int | None = None

    async def run(self) -> str | None:
        """Fetch the rest of the file; return the hex digest (None without a checksum)."""
        offset = self.staged.offset if self.state.etag or self.state.last_modified else 0
        self.hasher = self.expected.new() if self.expected else None
        if offset and self.expected:
            self.hasher = await asyncio.to_thread(_rehash, str(self.staged.part), self.expected)
        try:
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=True, verify=self.verify_tls) as cli:
                async with cli.stream("GET", self.url, headers=self._headers(offset)) as resp:
                    start = await self._start(resp, offset)
                    if start is not None:
                        await self._body(resp, start)
        except httpx.ReadTimeout as exc:
            raise DownloadStalled(f"download of {self.url} stalled: no data for {self.stall:g}s "
                                  f"after {self.done} bytes") from exc
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise DownloadTruncated(f"download of {self.url} was cut off after {self.done} of "
                                    f"{self.total or '?'} bytes ({exc})") from exc
        except httpx.HTTPError as exc:
            raise DownloadHTTPError(f"cannot download {self.url}: {type(exc).__name__}: {exc}") from exc
        if self.total is not None and self.done != self.total:
            raise DownloadTruncated(f"download of {self.url} ended after {self.done} of {self.total} bytes")
        return self.hasher.hexdigest() if self.hasher else None

    def _headers(self, offset: int) -> dict[str, str]:
        """Request headers: no content coding; Range + If-Range when resuming."""
        headers = {"Accept-Encoding": "identity", "User-Agent": "virga-storage/1"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
            validator = self.state.etag or self.state.last_modified
            if validator:
                headers["If-Range"] = validator
        return headers

    async def _start(self, resp: httpx.Response, offset: int) -> int | None:
        """Check the status; return the offset to write from, or None when the file is already complete."""
        if resp.status_code == 416 and offset and self.state.total == offset:
            self.done = self.total = offset
            return None
        if resp.status_code == 206 and offset and _range_start(resp) == offset:
            pass
        elif resp.status_code == 200:
            offset = 0
            if self.expected:
                self.hasher = self.expected.new()
        else:
            raise DownloadHTTPError(f"{self.url} answered HTTP {resp.status_code} {resp.reason_phrase}")
        length = resp.headers.get("content-length")
        self.total = offset + int(length) if length and length.isdigit() else None
        self.done = offset
        self.state.etag = resp.headers.get("etag")
        self.state.last_modified = resp.headers.get("last-modified")
        self.state.total = self.total
        self.staged.save(self.state)
        return offset

    async def _body(self, resp: httpx.Response, offset: int) -> None:
        """Append the body to the staging file; writing and hashing run in a thread, overlapping the receive."""
        last_pct, last_t = -1, 0.0
        loop = asyncio.get_running_loop()
        pending: asyncio.Future[None] | None = None
        buf = bytearray()
        with open(self.staged.part, "r+b" if offset else "wb") as f:
            f.truncate(offset)
            f.seek(offset)
            try:
                async for data in resp.aiter_raw():
                    buf += data
                    self.done += len(data)
                    if len(buf) >= _CHUNK:
                        if pending is not None:
                            await pending
                        pending, buf = loop.run_in_executor(None, self._sink, f, buf), bytearray()
                    pct = self.done * 100 // self.total if self.total else -1
                    now = time.monotonic()
                    if pct != last_pct or now - last_t > 1.0:
                        last_pct, last_t = pct, now
                        await report(self.progress, self.done, self.total)
            finally:
                if pending is not None:
                    await asyncio.wait([pending])
            if pending is not None:
                pending.result()
            self._sink(f, buf)
        await report(self.progress, self.done, self.total or self.done)

    def _sink(self, f: Any, data: bytearray) -> None:
        """Write a block to the staging file and feed the hasher (both release the GIL)."""
        f.write(data)
        if self.hasher is not None:
            self.hasher.update(data)


def _range_start(resp: httpx.Response) -> int | None:
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
        while data := f.read(4 << 20):
            h.update(data)
    return h


__all__ = ["download", "file_digest"]
