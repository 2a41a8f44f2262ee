"""virga's storage layer: the NFS image store, template downloads, primary pools and snapshot backups."""

from __future__ import annotations

from .checksum import Checksum, parse_checksum
from .download import download
from .errors import (
    ChecksumMismatch,
    DownloadError,
    DownloadHTTPError,
    DownloadStalled,
    DownloadTruncated,
    ExportNotFound,
    FormatMismatch,
    InvalidChecksum,
    StorageError,
    StoreFileExists,
    StoreFileNotFound,
    StoreIOError,
    StoreUnreachable,
    ToolError,
    VerifyFailed,
)
from .imagestore import ImageStore, StoreCapacity
from .landing import StoredImage, upload, upload_file
from .staging import discard_staging

__all__ = [
    "Checksum",
    "ChecksumMismatch",
    "DownloadError",
    "DownloadHTTPError",
    "DownloadStalled",
    "DownloadTruncated",
    "ExportNotFound",
    "FormatMismatch",
    "ImageStore",
    "InvalidChecksum",
    "StorageError",
    "StoreCapacity",
    "StoreFileExists",
    "StoreFileNotFound",
    "StoreIOError",
    "StoreUnreachable",
    "StoredImage",
    "ToolError",
    "VerifyFailed",
    "discard_staging",
    "download",
    "parse_checksum",
    "upload",
    "upload_file",
]
