"""Verifying a staged file (checksum, format) and landing it on the image store; plus the upload path."""

from __future__ import annotations

import inspect
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from .checksum import Checksum, parse_checksum
from .errors import ChecksumMismatch, DownloadError, StorageError
from .formats import verify_format
from .imagestore import ImageStore
from .staging import Staged, TransferState, staging_root

Progress = Callable[[int, int], "Awaitable[None] | None"]


@dataclass(frozen=True)
class StoredImage:
    """A template/ISO/volume file now on the image store."""

    path: str
    url: str
    fmt: str
    size: int
    virtual_size: int
    checksum: str


async def report(progress: Progress | None, done: int, total: int | None) -> None:
    """Call the progress callback (sync or async) with (percent, bytes)."""
    if progress is None:
        return
    percent = min(100, done * 100 // total) if total else 0
    res = progress(percent, done)
    if inspect.isawaitable(res):
        await res


def check_digest(expected: Checksum | None, got_hex: str | None) -> None:
    """Raise ChecksumMismatch when the computed digest differs from the expected one."""
    if expected is not None and got_hex != expected.hexdigest:
        raise ChecksumMismatch(f"checksum mismatch: expected {expected.algorithm} {expected.hexdigest}, got {got_hex}")


async def land(
    staged: Staged,
    store: ImageStore,
    dest_path: str,
    expected: Checksum | None,
    digest: str | None,
    expected_format: str | None,
) -> StoredImage:
    """Verify checksum and format of the staged file, then copy it onto the store atomically."""
    check_digest(expected, digest)
    info = await verify_format(str(staged.part), expected_format)
    size = await store.put_file(str(staged.part), dest_path)
    shown = str(expected) if expected else ""
    return StoredImage(dest_path, store.url_for(dest_path), info.fmt, size, info.virtual_size or size, shown)


async def upload(
    stream: AsyncIterator[bytes],
    store: ImageStore,
    dest_path: str,
    *,
    checksum: str | None = None,
    expected_format: str | None = None,
    total: int | None = None,
    progress: Progress | None = None,
    staging_dir: str | None = None,
) -> StoredImage:
    """Receive an uploaded file (e.g. a request body), verify it and store it; nothing partial survives."""
    expected = parse_checksum(checksum)
    if await store.exists(dest_path):
        raise StorageError(f"{dest_path} already exists on the store")
    staged = Staged.for_transfer(staging_root(staging_dir), f"upload:{os.getpid()}:{id(stream)}", dest_path)
    hasher = expected.new() if expected else None
    done = 0
    try:
        staged.save(TransferState(url="upload", dest_path=dest_path, total=total))
        with open(staged.part, "wb") as f:
            async for data in stream:
                f.write(data)
                if hasher:
                    hasher.update(data)
                done += len(data)
                await report(progress, done, total)
        if total is not None and done != total:
            raise DownloadError(f"upload ended after {done} of {total} bytes")
        return await land(staged, store, dest_path, expected, hasher.hexdigest() if hasher else None, expected_format)
    finally:
        staged.discard()


async def upload_file(local: str, store: ImageStore, dest_path: str, **kw: object) -> StoredImage:
    """Upload a local file through the same verify-and-store path as HTTP uploads."""

    async def chunks() -> AsyncIterator[bytes]:
        with open(local, "rb") as f:
            while data := f.read(1 << 20):
                yield data

    return await upload(chunks(), store, dest_path, total=os.path.getsize(local), **kw)  # type: ignore[arg-type]


async def write_properties(store: ImageStore, stored: StoredImage, template_id: str, description: str = "") -> str:
    """Write template.properties beside a stored template/ISO; return its store path."""
    from .layout import PROPERTIES, TemplateProperties, render_properties

    folder, _, filename = stored.path.rpartition("/")
    props = TemplateProperties(
        id=str(template_id),
        uuid=filename.rpartition(".")[0],
        filename=filename,
        fmt=stored.fmt,
        size=stored.size,
        virtual_size=stored.virtual_size,
        checksum=stored.checksum,
        description=description,
    )
    path = f"{folder}/{PROPERTIES}"
    await store.put_bytes(render_properties(props).encode(), path)
    return path
