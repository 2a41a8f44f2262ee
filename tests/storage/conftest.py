"""Fixtures for the storage tests: nfs-ganesha in a private netns, a local HTTP server, sample images."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from virga.appliance.storage import ImageStore
from virga.appliance.storage.ganesha import Ganesha

from tests.libvirt.conftest import bridge, daemons, driver, guest_image, pool, template  # noqa: F401  (libvirt)
from tests.storage.httpserver import FileServer
from tests.storage.netns import NetnsLink
from tests.support import need


def need_tools() -> None:
    """The storage tests need ganesha, rpcbind, libnfs tools, qemu-img/io, ip and root."""
    for tool, pkg in [
        ("ganesha.nfsd", "nfs-ganesha nfs-ganesha-vfs"),
        ("rpcbind", "rpcbind"),
        ("nfs-cat", "libnfs-utils"),
        ("qemu-img", "qemu-utils"),
        ("qemu-io", "qemu-utils"),
        ("ip", "iproute2"),
        ("unshare", "util-linux"),
    ]:
        need(shutil.which(tool) is not None, f"{tool} not installed (apt package {pkg})")
    need(os.geteuid() == 0, "root is needed for network namespaces and ganesha")


class NfsFixture:
    """A running ganesha with one export; `store` is an ImageStore on it."""

    def __init__(self, link: NetnsLink, ganesha: Ganesha, export: Path) -> None:
        self.link, self.ganesha, self.export = link, ganesha, export
        self.url = ganesha.url_for(str(export))
        self.store = ImageStore(self.url)


@pytest.fixture(scope="session")
def nfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NfsFixture]:
    """nfs-ganesha (NFSv3+v4) with a private rpcbind in its own netns; stopped and removed afterwards."""
    need_tools()
    work = tmp_path_factory.mktemp("ganesha")
    export = work / "export"
    export.mkdir()
    link = NetnsLink.create()
    g = Ganesha(work / "run", link.ns_addr, netns=link.name, private_rpcbind=True)
    try:
        asyncio.run(g.export(str(export)))
        asyncio.run(g.start())
        yield NfsFixture(link, g, export)
    finally:
        asyncio.run(g.stop())
        link.destroy()


@pytest.fixture(scope="session")
def bare_netns() -> Iterator[NetnsLink]:
    """A namespace with nothing listening: its address refuses every connection."""
    need_tools()
    link = NetnsLink.create()
    try:
        yield link
    finally:
        link.destroy()


@pytest.fixture
def http(tmp_path: Path) -> Iterator[FileServer]:
    """A local HTTP server on 127.0.0.1 serving tmp_path/www."""
    root = tmp_path / "www"
    root.mkdir()
    srv = FileServer(str(root)).start()
    try:
        yield srv
    finally:
        srv.stop()


def make_qcow2(path: Path, size: str = "16M", pattern: int = 0xA5, length: str = "1M") -> Path:
    """A qcow2 with some written data (qemu-img create + qemu-io write -P)."""
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), size], check=True)
    subprocess.run(
        ["qemu-io", "-f", "qcow2", "-c", f"write -P {pattern} 0 {length}", str(path)], check=True, capture_output=True
    )
    return path


@pytest.fixture
def staging(tmp_path: Path) -> Path:
    """A private staging directory."""
    d = tmp_path / "staging"
    d.mkdir()
    return d


@pytest.fixture
def kvm_pool(request: pytest.FixtureRequest) -> Iterator[tuple[str, Path]]:
    """A fresh libvirt directory pool (name, path), removed afterwards."""
    from tests.storage.kvmzone import libvirt_pool

    request.getfixturevalue("daemons")
    with libvirt_pool() as made:
        yield made


@pytest.fixture(autouse=True)
def private_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Staging and image-cache directories private to each test."""
    monkeypatch.setenv("VIRGA_STAGING", str(tmp_path / "staging-env"))
    monkeypatch.setenv("VIRGA_IMAGE_CACHE", str(tmp_path / "image-cache"))
