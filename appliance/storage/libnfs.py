"""A small ctypes binding to libnfs (sync API): mount, statvfs, stat, readdir, mkdir, unlink, rename, read/write."""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import stat as statmod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .errors import (
    ExportNotFound,
    StorageError,
    StoreFileExists,
    StoreFileNotFound,
    StoreIOError,
    StoreUnreachable,
    ToolError,
)

_U64 = ctypes.c_uint64
_U32 = ctypes.c_uint32


class _Timeval(ctypes.Structure):
    """struct timeval on Linux/x86_64."""

    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Stat64(ctypes.Structure):
    """struct nfs_stat_64 from libnfs.h."""

    _fields_ = [
        (n, _U64)
        for n in (
            "dev ino mode nlink uid gid rdev size blksize blocks atime mtime ctime "
            "atime_nsec mtime_nsec ctime_nsec used"
        ).split()
    ]


class _StatVfs64(ctypes.Structure):
    """struct nfs_statvfs_64 from libnfs.h."""

    _fields_ = [(n, _U64) for n in "bsize frsize blocks bfree bavail files ffree favail fsid flag namemax".split()]


class _Dirent(ctypes.Structure):
    """The leading fields of struct nfsdirent from libnfs.h (we only read these)."""


_Dirent._fields_ = [
    ("next", ctypes.POINTER(_Dirent)),
    ("name", ctypes.c_char_p),
    ("inode", _U64),
    ("type", _U32),
    ("mode", _U32),
    ("size", _U64),
    ("atime", _Timeval),
    ("mtime", _Timeval),
]

_VP = ctypes.c_void_p
_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "nfs_init_context": (_VP, []),
    "nfs_destroy_context": (None, [_VP]),
    "nfs_get_error": (ctypes.c_char_p, [_VP]),
    "nfs_set_timeout": (None, [_VP, ctypes.c_int]),
    "nfs_mount": (ctypes.c_int, [_VP, ctypes.c_char_p, ctypes.c_char_p]),
    "nfs_umount": (ctypes.c_int, [_VP]),
    "nfs_stat64": (ctypes.c_int, [_VP, ctypes.c_char_p, ctypes.POINTER(_Stat64)]),
    "nfs_statvfs64": (ctypes.c_int, [_VP, ctypes.c_char_p, ctypes.POINTER(_StatVfs64)]),
    "nfs_mkdir": (ctypes.c_int, [_VP, ctypes.c_char_p]),
    "nfs_rmdir": (ctypes.c_int, [_VP, ctypes.c_char_p]),
    "nfs_unlink": (ctypes.c_int, [_VP, ctypes.c_char_p]),
    "nfs_rename": (ctypes.c_int, [_VP, ctypes.c_char_p, ctypes.c_char_p]),
    "nfs_opendir": (ctypes.c_int, [_VP, ctypes.c_char_p, ctypes.POINTER(_VP)]),
    "nfs_readdir": (ctypes.POINTER(_Dirent), [_VP, _VP]),
    "nfs_closedir": (None, [_VP, _VP]),
    "nfs_open": (ctypes.c_int, [_VP, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(_VP)]),
    "nfs_creat": (ctypes.c_int, [_VP, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(_VP)]),
    "nfs_close": (ctypes.c_int, [_VP, _VP]),
    "nfs_read": (ctypes.c_int, [_VP, _VP, _U64, ctypes.c_void_p]),
    "nfs_write": (ctypes.c_int, [_VP, _VP, _U64, ctypes.c_void_p]),
    "nfs_fsync": (ctypes.c_int, [_VP, _VP]),
}
_lib: Any = None


def _load() -> Any:
    """Load libnfs once and declare the signatures we use."""
    global _lib
    if _lib is None:
        name = ctypes.util.find_library("nfs") or "libnfs.so.13"
        try:
            lib = ctypes.CDLL(name)
        except OSError as exc:
            raise ToolError(f"libnfs is not installed ({exc}); install the libnfs13 package") from exc
        for fn, (res, args) in _SIGNATURES.items():
            func = getattr(lib, fn)
            func.restype, func.argtypes = res, args
        _lib = lib
    return _lib


@dataclass(frozen=True)
class NfsEntry:
    """One directory entry on an NFS export."""

    name: str
    is_dir: bool
    size: int


@dataclass(frozen=True)
class NfsFsStat:
    """Capacity of an NFS export, in bytes."""

    total: int
    free: int
    available: int

    @property
    def used(self) -> int:
        """Bytes in use on the export's filesystem."""
        return self.total - self.free


def _b(path: str) -> bytes:
    """Encode a path for libnfs."""
    return path.encode()


class NfsClient:
    """One mounted libnfs context; use as a context manager, from a worker thread (calls block)."""

    def __init__(self, host: str, export: str, timeout: float = 15.0) -> None:
        self.host, self.export, self.timeout = host, export, timeout
        self._ctx: int | None = None

    def __enter__(self) -> NfsClient:
        self.mount()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def mount(self) -> None:
        """Create the context and mount the export; raise StoreUnreachable/ExportNotFound."""
        lib = _load()
        ctx = lib.nfs_init_context()
        if not ctx:
            raise StorageError("libnfs could not create a context (out of memory?)")
        lib.nfs_set_timeout(ctx, int(self.timeout * 1000))
        rc = lib.nfs_mount(ctx, _b(self.host), _b(self.export))
        if rc != 0:
            msg = (lib.nfs_get_error(ctx) or b"").decode(errors="replace")
            lib.nfs_destroy_context(ctx)
            where = f"nfs://{self.host}{self.export}"
            if "MNT3ERR" in msg or rc in (-errno.ENOENT, -errno.EACCES, -errno.EPERM):
                raise ExportNotFound(f"{where}: the server does not export this path to us ({msg})")
            raise StoreUnreachable(f"{where}: the NFS server does not answer ({msg or os.strerror(-rc)})")
        self._ctx = ctx

    def close(self) -> None:
        """Unmount and free the context."""
        if self._ctx is not None:
            lib = _load()
            lib.nfs_umount(self._ctx)
            lib.nfs_destroy_context(self._ctx)
            self._ctx = None

    def _check(self, rc: int, what: str, path: str) -> int:
        """Turn a negative libnfs return code into a typed error."""
        if rc >= 0:
            return rc
        msg = (_load().nfs_get_error(self._ctx) or b"").decode(errors="replace")
        text = f"{what} {path} on nfs://{self.host}{self.export}: {msg or os.strerror(-rc)}"
        if rc == -errno.ENOENT:
            raise StoreFileNotFound(text)
        if rc == -errno.EEXIST:
            raise StoreFileExists(text)
        if rc in (-errno.ETIMEDOUT, -errno.ECONNREFUSED, -errno.ECONNRESET):
            raise StoreUnreachable(text)
        raise StoreIOError(text)

    def statvfs(self, path: str = "/") -> NfsFsStat:
        """Capacity of the export (FSSTAT)."""
        st = _StatVfs64()
        self._check(_load().nfs_statvfs64(self._ctx, _b(path), ctypes.byref(st)), "statvfs", path)
        unit = st.frsize or st.bsize
        return NfsFsStat(total=st.blocks * unit, free=st.bfree * unit, available=st.bavail * unit)

    def stat(self, path: str) -> tuple[bool, int]:
        """(is_dir, size) of a path; raise StoreFileNotFound."""
        st = _Stat64()
        self._check(_load().nfs_stat64(self._ctx, _b(path), ctypes.byref(st)), "stat", path)
        return statmod.S_ISDIR(st.mode), int(st.size)

    def exists(self, path: str) -> bool:
        """True when something is at that path."""
        try:
            self.stat(path)
        except StoreFileNotFound:
            return False
        return True

    def listdir(self, path: str) -> list[NfsEntry]:
        """Entries of a directory, without . and .."""
        lib, handle = _load(), _VP()
        self._check(lib.nfs_opendir(self._ctx, _b(path), ctypes.byref(handle)), "opendir", path)
        out: list[NfsEntry] = []
        try:
            while True:
                ent = lib.nfs_readdir(self._ctx, handle)
                if not ent:
                    break
                name = ent.contents.name.decode(errors="replace")
                if name not in (".", ".."):
                    out.append(NfsEntry(name, statmod.S_ISDIR(ent.contents.mode), int(ent.contents.size)))
        finally:
            lib.nfs_closedir(self._ctx, handle)
        return sorted(out, key=lambda e: e.name)

    def makedirs(self, path: str) -> None:
        """mkdir -p on the export."""
        parts = [p for p in path.split("/") if p]
        for i in range(1, len(parts) + 1):
            sub = "/" + "/".join(parts[:i])
            rc = _load().nfs_mkdir(self._ctx, _b(sub))
            if rc < 0 and rc != -errno.EEXIST:
                self._check(rc, "mkdir", sub)

    def unlink(self, path: str) -> None:
        """Remove a file."""
        self._check(_load().nfs_unlink(self._ctx, _b(path)), "unlink", path)

    def rmdir(self, path: str) -> None:
        """Remove an empty directory."""
        self._check(_load().nfs_rmdir(self._ctx, _b(path)), "rmdir", path)

    def rename(self, old: str, new: str) -> None:
        """Rename a file (atomic on the server)."""
        self._check(_load().nfs_rename(self._ctx, _b(old), _b(new)), "rename", old)

    def read_chunks(self, path: str, chunk: int = 1 << 20) -> Iterator[bytes]:
        """Yield a file's content in chunks."""
        lib, fh = _load(), _VP()
        self._check(lib.nfs_open(self._ctx, _b(path), os.O_RDONLY, ctypes.byref(fh)), "open", path)
        buf = ctypes.create_string_buffer(chunk)
        try:
            while True:
                n = self._check(lib.nfs_read(self._ctx, fh, chunk, buf), "read", path)
                if n == 0:
                    return
                yield buf.raw[:n]
        finally:
            lib.nfs_close(self._ctx, fh)

    def write_chunks(self, path: str, chunks: Iterator[bytes], mode: int = 0o644) -> int:
        """Create (truncate) a file and write chunks to it; return bytes written."""
        lib, fh, total = _load(), _VP(), 0
        self._check(lib.nfs_creat(self._ctx, _b(path), mode, ctypes.byref(fh)), "create", path)
        try:
            for data in chunks:
                view = memoryview(data)
                while view:
                    n = self._check(lib.nfs_write(self._ctx, fh, len(view), bytes(view)), "write", path)
                    view, total = view[n:], total + n
            self._check(lib.nfs_fsync(self._ctx, fh), "fsync", path)
        finally:
            lib.nfs_close(self._ctx, fh)
        return total
