"""Fixtures for real libvirt/QEMU tests: daemons, the tiny guest template, a pool, a bridge, a driver."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from virga.drivers.base import HostConnection, PoolSpec, TemplateSpec

from tests.libvirt import support


@pytest.fixture(scope="session")
def daemons() -> Iterator[None]:
    """virtlogd and libvirtd, started when not running (and stopped again at the end)."""
    support.need(os.geteuid() == 0, "root is needed for qemu:///system")
    support.need(support.tools_present(), "apt: libvirt-daemon-system qemu-system-x86 qemu-utils dosfstools mtools")
    try:
        import libvirt  # noqa: F401
    except ImportError:
        support.need(False, "pip: libvirt-python")
    started = support.start_daemons()
    yield
    support.stop_daemons(started)


@pytest.fixture(scope="session")
def guest_image(daemons: None) -> Path:
    """The tiny guest template (cached between runs, keyed by the build inputs' hash)."""
    return support.build_guest()


@pytest.fixture
def template(guest_image: Path) -> TemplateSpec:
    """A TemplateSpec for the tiny guest."""
    return TemplateSpec(uuid=f"tiny-{guest_image.parent.name}", name="virga-tiny", url=f"file://{guest_image}")


@pytest.fixture
def bridge(daemons: None) -> Iterator[str]:
    """An isolated bridge for the test's guests."""
    name = support.make_bridge()
    yield name
    support.delete_bridge(name)


@pytest.fixture
def pool(daemons: None) -> Iterator[PoolSpec]:
    """A fresh directory pool, removed afterwards."""
    tag = uuid.uuid4().hex[:8]
    path = Path(tempfile.mkdtemp(prefix=f"virga-pool-{tag}-", dir="/var/tmp"))
    os.chmod(path, 0o755)
    spec = PoolSpec(uuid=str(uuid.uuid4()), name=f"virga-test-{tag}", kind="dir", url=f"file://{path}", path=str(path))
    yield spec
    support.drop_pool(spec.name, path)


@pytest.fixture
async def driver(daemons: None, tmp_path: Path) -> AsyncIterator[object]:
    """A connected LibvirtDriver on qemu:///system that cleans up the domains it leaves."""
    from virga.drivers.libvirt import LibvirtDriver

    tmp_path.chmod(0o755)
    d = LibvirtDriver(
        HostConnection(url="qemu:///system", options={"shutdown_timeout": "20", "console_log_dir": str(tmp_path)})
    )
    await d.connect()
    d.created = []  # type: ignore[attr-defined]
    yield d
    for vid in d.created:  # type: ignore[attr-defined]
        try:
            await d.destroy_instance(vid)
        except Exception:  # noqa: BLE001 - best-effort cleanup
            pass
    await d.close()
