"""Enter a named network namespace for the current thread (ctypes setns), e.g. to open sockets there."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from contextlib import contextmanager

from virga.appliance.router.errors import ApplyError

CLONE_NEWNET = 0x40000000
NETNS_DIR = "/run/netns"
_libc = ctypes.CDLL(None, use_errno=True)


def netns_path(name: str) -> str:
    """The bind-mount path of a named namespace (as `ip netns` creates them)."""
    return os.path.join(NETNS_DIR, name)


def netns_id(name: str) -> int | None:
    """The inode of a named namespace (changes when it is recreated), or None when absent."""
    try:
        return os.stat(netns_path(name)).st_ino
    except OSError:
        return None


def _setns(fd: int) -> None:
    """setns(2) into a network namespace file descriptor."""
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise ApplyError(f"setns failed: {os.strerror(err)}")


@contextmanager
def netns(name: str | None) -> Iterator[None]:
    """Run the body with the calling thread inside namespace `name` (None: stay where we are)."""
    if name is None:
        yield
        return
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(netns_path(name), os.O_RDONLY)
    except OSError as exc:
        os.close(own)
        raise ApplyError(f"network namespace {name} does not exist") from exc
    try:
        _setns(target)
        yield
    finally:
        _setns(own)
        os.close(target)
        os.close(own)


def write_sysctl(netns_name: str, key: str, value: str) -> bool:
    """Set a net sysctl inside a namespace; return whether it changed."""
    path = "/proc/sys/" + key.replace(".", "/")
    with netns(netns_name):
        with open(path) as f:
            if f.read().strip() == value:
                return False
        with open(path, "w") as f:
            f.write(value)
    return True
