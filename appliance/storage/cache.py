"""A local cache of store images for hypervisor drivers that need a local file (blocking; call from a thread)."""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import uuid as uuidlib
from pathlib import Path

from .errors import ToolError
from .imagestore import parse_nfs_url

DEFAULT_CACHE = "/var/lib/virga/image-cache"


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache directory (argument, $VIRGA_IMAGE_CACHE, or /var/lib/virga/image-cache), created if missing."""
    root = Path(cache_dir or os.environ.get("VIRGA_IMAGE_CACHE") or DEFAULT_CACHE)
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)
    return root


def local_copy(url: str, cache_dir: str | os.PathLike[str] | None = None) -> str:
    """A local qcow2 copy of an nfs:// image (qemu-img convert through libnfs), made once and reused.

    Store images never change once written (new content gets a new uuid path), so the URL is the cache key.
    """
    parse_nfs_url(url.rsplit("/", 1)[0])
    root = cache_root(cache_dir)
    key = hashlib.sha256(url.encode()).hexdigest()[:32]
    dest = root / f"{key}.qcow2"
    if dest.exists():
        return str(dest)
    fd = os.open(root / f".{key}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if not dest.exists():
            _convert(url, dest)
    finally:
        os.close(fd)
    return str(dest)


def _convert(url: str, dest: Path) -> None:
    """qemu-img convert the image to a temp file beside dest and rename it into place."""
    tmp = dest.with_name(f".{dest.name}.part-{uuidlib.uuid4().hex[:8]}")
    try:
        proc = subprocess.run(["qemu-img", "convert", "-O", "qcow2", url, str(tmp)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise ToolError(f"cannot copy {url} from the image store: {proc.stderr.strip()}")
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
