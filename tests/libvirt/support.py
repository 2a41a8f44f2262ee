"""Helpers for the real libvirt/QEMU integration tests: daemons, the tiny guest, pools, bridges."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from pathlib import Path

from virga.cli import guestimage

from tests.support import need  # noqa: F401  (re-exported for this package's tests)

ROOT = Path(__file__).resolve().parents[2]
GUEST_DIR = guestimage.GUEST_DIR
CACHE = guestimage.cache_dir()
LOGIN = b"virga-tiny login: ready"


def running(name: str) -> bool:
    """Whether a process with exactly this name runs."""
    return subprocess.run(["pgrep", "-x", name], capture_output=True).returncode == 0


def fix_kvm_device() -> None:
    """Give /dev/kvm its usual group (kvm) when it lost it, so libvirt keeps its QEMU capability cache."""
    from virga.drivers.libvirt.host import kvm_device_problem

    if kvm_device_problem():
        subprocess.run(["chgrp", "kvm", "/dev/kvm"], check=False)


def start_daemons() -> list[str]:
    """Start virtlogd and libvirtd when not running; return the names started here."""
    fix_kvm_device()
    started = []
    for name in ("virtlogd", "libvirtd"):
        if not running(name):
            subprocess.run([name, "-d"], check=True)
            started.append(name)
    for attempt in range(60):
        probe = subprocess.run(["virsh", "-c", "qemu:///system", "version"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            break
        if attempt == 59:
            raise RuntimeError(f"libvirtd did not answer: {probe.stderr.decode(errors='replace')}")
        time.sleep(0.5)
    return started


def stop_daemons(names: list[str]) -> None:
    """Stop the daemons this session started (by their pid files)."""
    for name in reversed(names):
        pidfile = Path(f"/run/{name}.pid")
        if pidfile.exists():
            subprocess.run(["kill", pidfile.read_text().strip()], check=False)


def guest_key() -> str:
    """A hash of the guest's build inputs, so the cached build is reused until they change."""
    return guestimage.guest_key()


def build_guest() -> Path:
    """The tiny guest template, built once per build-script hash into the cache."""
    return guestimage.ensure()


def make_bridge() -> str:
    """An isolated Linux bridge (no address, no uplink) for test guests."""
    name = f"vgt{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "link", "add", name, "type", "bridge"], check=True)
    subprocess.run(["ip", "link", "set", name, "up"], check=True)
    return name


def delete_bridge(name: str) -> None:
    """Remove a test bridge."""
    subprocess.run(["ip", "link", "del", name], check=False, capture_output=True)


def drop_pool(name: str, path: Path) -> None:
    """Destroy and undefine a test pool, then remove its directory."""
    subprocess.run(["virsh", "-c", "qemu:///system", "pool-destroy", name], capture_output=True)
    subprocess.run(["virsh", "-c", "qemu:///system", "pool-undefine", name], capture_output=True)
    shutil.rmtree(path, ignore_errors=True)


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
