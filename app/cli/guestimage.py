"""The tiny guest template (images/guest/): where its cached build lives, and building it when missing."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

GUEST_DIR = Path(__file__).resolve().parents[2] / "images" / "guest"
INPUTS = ("build.sh", "init", "udhcpc.script")
BUILD_TOOLS = {
    "qemu-img": "qemu-utils",
    "mkfs.fat": "dosfstools",
    "mcopy": "mtools",
    "cpio": "cpio",
    "depmod": "kmod",
    "apt-get": "apt",
}


class GuestImageError(RuntimeError):
    """The tiny guest image is missing and cannot be built here."""


def cache_dir() -> Path:
    """Where built guests are cached (VIRGA_CACHE, else ~/.cache/virga), one folder per build-input hash."""
    return Path(os.environ.get("VIRGA_CACHE", Path.home() / ".cache" / "virga")) / "guest"


def guest_key() -> str:
    """A hash of the guest's build inputs, so the cached build is reused until they change."""
    h = hashlib.sha256()
    for name in INPUTS:
        h.update((GUEST_DIR / name).read_bytes())
    return h.hexdigest()[:16]


def image_path() -> Path:
    """The image to use: VIRGA_GUEST_TEMPLATE (the appliance's), else the cached build's path."""
    given = os.environ.get("VIRGA_GUEST_TEMPLATE")
    if given:
        return Path(given)
    return cache_dir() / guest_key() / "virga-tiny.qcow2"


def problem() -> str | None:
    """Why the image is neither present nor buildable (None when it is one or the other)."""
    image = image_path()
    if image.exists():
        return None
    if os.environ.get("VIRGA_GUEST_TEMPLATE"):
        return f"VIRGA_GUEST_TEMPLATE={image} does not exist"
    if not (GUEST_DIR / "build.sh").exists():
        return f"no tiny guest image at {image} and no build script in {GUEST_DIR}"
    missing = [f"{tool} (apt {pkg})" for tool, pkg in BUILD_TOOLS.items() if not shutil.which(tool)]
    if missing:
        return f"no tiny guest image at {image}, and building it needs: {', '.join(missing)}"
    return None


def ensure() -> Path:
    """The tiny guest image, built with images/guest/build.sh (Debian packages) when not cached yet."""
    image = image_path()
    if not image.exists():
        why = problem()
        if why:
            raise GuestImageError(why)
        try:
            subprocess.run(
                [str(GUEST_DIR / "build.sh"), str(image.parent)], check=True, capture_output=True, timeout=900
            )
        except subprocess.CalledProcessError as exc:
            tail = exc.stderr.decode(errors="replace").strip().splitlines()[-3:]
            raise GuestImageError(f"building the tiny guest failed: {' | '.join(tail)}") from exc
    os.chmod(image.parent, 0o755)
    return image
