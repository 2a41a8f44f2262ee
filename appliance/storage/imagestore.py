"""ImageStore: the secondary storage (NFS export) reached through libnfs, never a kernel mount."""

from __future__ import annotations

import asyncio
import os
import uuid as uuidlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

from .errors import StorageError, StoreFileExists, StoreFileNotFound
from .layout import normalize
from .libnfs import NfsClient, NfsEntry

T = TypeVar("T")
CHUNK = 1 << 20


@dataclass(frozen=True)
class StoreCapacity:
    """Capacity of the store's export in bytes (from NFS FSSTAT via libnfs)."""

    total: int
    used: int
    available: int


def parse_nfs_url(url: str) -> tuple[str, str]:
    """(host, export path) of an nfs://host/path URL."""
    parts = urlsplit(url)
    if parts.scheme != "nfs" or not parts.hostname or not parts.path.startswith("/"):
        raise StorageError(f"not an nfs://host/path URL: {url!r}")
    if parts.port or parts.query:
        raise StorageError(f"nfs URL must not carry a port or options (qemu-img cannot use them): {url!r}")
    return parts.hostname, parts.path.rstrip("/") or "/"


class ImageStore:
    """An NFS image store holding templates, ISOs and snapshots in the layout of layout.py."""

    def __init__(self, url: str, timeout: float = 15.0) -> None:
        self.host, self.export = parse_nfs_url(url)
        self.timeout = timeout

    @property
    def url(self) -> str:
        """The store's nfs:// URL."""
        return f"nfs://{self.host}{self.export}"

    def url_for(self, path: str) -> str:
        """nfs:// URL of a store-relative path (what qemu-img and nfs-cp take)."""
        return f"{self.url.rstrip('/')}/{normalize(path)}"

    def _client(self) -> NfsClient:
        """A fresh libnfs context for this export."""
        return NfsClient(self.host, self.export, self.timeout)

    async def _call(self, fn: Callable[[NfsClient], T]) -> T:
        """Run fn with a mounted client in a worker thread."""

        def work() -> T:
            with self._client() as c:
                return fn(c)

        return await asyncio.to_thread(work)

    async def check(self) -> None:
        """Raise StoreUnreachable/ExportNotFound/StoreIOError unless the export answers and is listable."""
        await self._call(lambda c: c.listdir("/"))

    async def capacity(self) -> StoreCapacity:
        """Total, used and available bytes of the export."""
        st = await self._call(lambda c: c.statvfs("/"))
        return StoreCapacity(total=st.total, used=st.used, available=st.available)

    async def exists(self, path: str) -> bool:
        """True when a file or directory is at that store path."""
        rel = "/" + normalize(path)
        return await self._call(lambda c: c.exists(rel))

    async def size(self, path: str) -> int:
        """Size in bytes of a file on the store."""
        rel = "/" + normalize(path)
        return (await self._call(lambda c: c.stat(rel)))[1]

    async def list(self, path: str = "") -> list[NfsEntry]:
        """Entries of a store directory ('' is the root)."""
        rel = "/" + normalize(path) if path.strip("/") else "/"
        return await self._call(lambda c: c.listdir(rel))

    async def makedirs(self, path: str) -> None:
        """mkdir -p a store directory."""
        rel = "/" + normalize(path)
        await self._call(lambda c: c.makedirs(rel))

    async def delete(self, path: str, *, missing_ok: bool = False) -> None:
        """Delete a file, or a directory tree; StoreFileNotFound unless missing_ok."""
        rel = "/" + normalize(path)
        try:
            await self._call(lambda c: _delete_tree(c, rel))
        except StoreFileNotFound:
            if not missing_ok:
                raise

    async def put_file(self, local: str, path: str, *, overwrite: bool = False) -> int:
        """Copy a local file to the store atomically (temp name + rename); return its size."""
        return await self.put_stream(_file_chunks(local), path, overwrite=overwrite)

    async def put_bytes(self, data: bytes, path: str, *, overwrite: bool = True) -> int:
        """Write a small file (e.g. template.properties) atomically."""
        return await self.put_stream(iter([data]), path, overwrite=overwrite)

    async def put_stream(self, chunks: Iterator[bytes], path: str, *, overwrite: bool = False) -> int:
        """Write chunks to a temp file beside path and rename it into place; nothing partial survives."""
        rel = "/" + normalize(path)
        return await self._call(lambda c: _atomic_write(c, chunks, rel, overwrite))

    async def get_file(self, path: str, local: str) -> int:
        """Copy a store file to a local path (written beside it then renamed); return its size."""
        rel = "/" + normalize(path)
        tmp = f"{local}.part-{uuidlib.uuid4().hex[:8]}"

        def work(c: NfsClient) -> int:
            with open(tmp, "wb") as f:
                n = sum(f.write(b) for b in c.read_chunks(rel, CHUNK))
            os.replace(tmp, local)
            return n

        try:
            return await self._call(work)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    async def read_bytes(self, path: str) -> bytes:
        """Whole content of a small store file."""
        rel = "/" + normalize(path)
        return await self._call(lambda c: b"".join(c.read_chunks(rel)))

    async def rename(self, old: str, new: str) -> None:
        """Rename a store file (atomic on the server)."""
        a, b = "/" + normalize(old), "/" + normalize(new)
        await self._call(lambda c: c.rename(a, b))


def temp_name(rel: str) -> str:
    """A hidden temp name beside a store path, for write-then-rename."""
    head, _, tail = rel.rpartition("/")
    return f"{head}/.{tail}.part-{uuidlib.uuid4().hex[:8]}"


def _file_chunks(local: str) -> Iterator[bytes]:
    """Read a local file in chunks."""
    with open(local, "rb") as f:
        while data := f.read(CHUNK):
            yield data


def _atomic_write(c: NfsClient, chunks: Iterator[bytes], rel: str, overwrite: bool) -> int:
    """Write to a temp file then rename; remove the temp file on any failure."""
    if not overwrite and c.exists(rel):
        raise StoreFileExists(f"{rel} already exists on the store")
    c.makedirs(rel.rpartition("/")[0] or "/")
    tmp = temp_name(rel)
    try:
        n = c.write_chunks(tmp, chunks)
        c.rename(tmp, rel)
    except BaseException:
        try:
            c.unlink(tmp)
        except StorageError:
            pass
        raise
    return n


def _delete_tree(c: NfsClient, rel: str) -> None:
    """Remove a file, or a directory and everything under it."""
    is_dir, _ = c.stat(rel)
    if not is_dir:
        c.unlink(rel)
        return
    for entry in c.listdir(rel):
        _delete_tree(c, f"{rel}/{entry.name}")
    c.rmdir(rel)
