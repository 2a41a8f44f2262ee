"""Prerequisites of `virga demo --real`: root, libvirt at qemu:///system, QEMU, an NFS server, the tiny guest."""

from __future__ import annotations

import asyncio
import os
import shutil
from urllib.parse import urlparse

from virga.appliance.storage.localnfs import nfs_server_problem
from virga.cli import guestimage

LIBVIRT_URL = "qemu:///system"


class PrerequisiteError(RuntimeError):
    """This machine lacks something the real demo needs (the text says what and how to fix it)."""


def _libvirt_problem() -> str | None:
    """Why qemu:///system does not answer (None when it does)."""
    try:
        import libvirt
    except ImportError:
        return "the libvirt Python binding is missing: pip install libvirt-python (needs apt libvirt-dev)"
    try:
        conn = libvirt.open(LIBVIRT_URL)
    except libvirt.libvirtError as exc:
        return (
            f"libvirt is not reachable at {LIBVIRT_URL} ({exc}): start it (`systemctl start libvirtd`, "
            "or `virtlogd -d && libvirtd -d`); apt libvirt-daemon-system"
        )
    try:
        conn.getVersion()
    finally:
        conn.close()
    return None


def _static_problems(url: str) -> list[str]:
    """Problems found without talking to any daemon."""
    out = []
    if url and urlparse(url).hostname not in ("127.0.0.1", "localhost", "::1"):
        out.append(
            f"--real builds guests on this machine: use the embedded cloud or a server on this machine (not {url})"
        )
    if os.geteuid() != 0:
        out.append("root is needed (network namespaces for the virtual router and the NFS server)")
    for tool, pkg in (
        ("qemu-system-x86_64", "qemu-system-x86"),
        ("qemu-img", "qemu-utils"),
        ("ip", "iproute2"),
        ("dnsmasq", "dnsmasq-base"),
        ("nft", "nftables"),
    ):
        if not shutil.which(tool):
            out.append(f"{tool} not found (apt {pkg})")
    return out


async def check(url: str = "") -> list[str]:
    """Every missing prerequisite, as a list of clear sentences; raise PrerequisiteError when any."""
    problems = _static_problems(url)
    lv = await asyncio.to_thread(_libvirt_problem)
    for found in (lv, nfs_server_problem(), guestimage.problem()):
        if found:
            problems.append(found)
    if problems:
        raise PrerequisiteError("virga demo --real cannot run here:\n  - " + "\n  - ".join(problems))
    warnings = []
    from virga.drivers.libvirt.host import kvm_device_problem

    if kvm_device_problem():
        warnings.append(kvm_device_problem())
    if not os.path.exists("/dev/kvm"):
        warnings.append("no /dev/kvm: guests run under QEMU TCG (slower, but they boot)")
    return warnings
