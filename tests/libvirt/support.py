"""Helpers for the real libvirt/QEMU integration tests: daemons, the tiny guest, pools, bridges."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from virga.cli import guestimage

from bench.support.kvm import (  # noqa: F401  (shared with bench/boot.py, re-exported for these tests)
    LOGIN,
    build_guest,
    delete_bridge,
    drop_pool,
    fix_kvm_device,
    make_bridge,
    running,
    start_daemons,
)
from tests.support import need  # noqa: F401  (re-exported for this package's tests)

ROOT = Path(__file__).resolve().parents[2]
GUEST_DIR = guestimage.GUEST_DIR
CACHE = guestimage.cache_dir()


def stop_daemons(names: list[str]) -> None:
    """Stop the daemons this session started (by their pid files)."""
    for name in reversed(names):
        pidfile = Path(f"/run/{name}.pid")
        if pidfile.exists():
            subprocess.run(["kill", pidfile.read_text().strip()], check=False)


def guest_key() -> str:
    """A hash of the guest's build inputs, so the cached build is reused until they change."""
    return guestimage.guest_key()


def tools_present() -> bool:
    """Whether the host has what the real tests need."""
    return all(
        shutil.which(t)
        for t in (
            "libvirtd",
            "virtlogd",
            "virsh",
            "qemu-system-x86_64",
            "qemu-img",
            "mkfs.fat",
            "mcopy",
            "cpio",
            "depmod",
        )
    )
