"""Typed errors of the storage layer; the message is shown to users as errortext."""

from __future__ import annotations


class StorageError(Exception):
    """A storage operation failed."""


class StoreUnreachable(StorageError):
    """The NFS server did not answer (no portmapper, refused, timed out)."""


class ExportNotFound(StorageError):
    """The NFS server answered but does not export that path (or refuses us)."""


class StoreFileNotFound(StorageError):
    """No file or directory at that path on the store."""


class StoreFileExists(StorageError):
    """A file already exists where a new one was to be written."""


class StoreIOError(StorageError):
    """Reading or writing a file on the store failed."""


class ToolError(StorageError):
    """An external tool (qemu-img, nfs-cp, ganesha.nfsd...) failed or is missing."""


class InvalidChecksum(StorageError):
    """The checksum given is not in a recognised form."""


class DownloadError(StorageError):
    """A template or ISO download failed; nothing partial was kept."""


class DownloadHTTPError(DownloadError):
    """The HTTP server answered with an error status or could not be reached."""


class DownloadStalled(DownloadError):
    """No bytes arrived for longer than the stall timeout."""


class DownloadTruncated(DownloadError):
    """The server closed the connection before sending the whole file."""


class ChecksumMismatch(DownloadError):
    """The downloaded file does not match the checksum given at registration."""


class FormatMismatch(DownloadError):
    """The file is not of the format it claims to be (e.g. text posing as qcow2)."""


class VerifyFailed(StorageError):
    """A copy was made but does not compare equal to its source."""
