"""The template/ISO download: resumable HTTP(S) fetch (curl, fetch.py) to staging, verify, land on the store."""

from __future__ import annotations

import asyncio

from .checksum import file_digest, parse_checksum
from .errors import DownloadError, StorageError, StoreFileExists
from .fetch import Fetch
from .imagestore import ImageStore
from .landing import Progress, StoredImage, land
from .staging import Staged, TransferState, staging_root


async def download(
    url: str,
    store: ImageStore,
    dest_path: str,
    checksum: str | None = None,
    expected_format: str | None = None,
    progress: Progress | None = None,
    resume: bool = True,
    *,
    stall_timeout: float = 60.0,
    connect_timeout: float = 30.0,
    staging_dir: str | None = None,
    verify_tls: bool = True,
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
        fetch = Fetch(url, staged, state, expected, progress, stall_timeout, connect_timeout, verify_tls)
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


__all__ = ["download", "file_digest"]
