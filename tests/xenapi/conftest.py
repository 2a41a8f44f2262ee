"""Fixtures: a fake XAPI pool on loopback and XenAPI drivers connected to it."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from virga.drivers.base import HostConnection, InstanceSpec, NicSpec, PoolSpec, TemplateSpec, VolumeSpec
from virga.drivers.xenapi import XenAPIDriver

from tests.fakes.xapi import FakeXapi
from tests.support import need


@pytest.fixture
def fake() -> Iterator[FakeXapi]:
    """A seeded fake pool master serving XML-RPC over HTTP on 127.0.0.1."""
    with FakeXapi() as server:
        yield server


def record(fake: FakeXapi, cls: str, **match: Any) -> dict[str, Any]:
    """The one record of a class whose fields match."""
    found = [r for r in fake.db.table(cls).values() if all(r.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (cls, match, len(found))
    return found[0]


def conn(fake: FakeXapi, host: str = "xs1", **options: str) -> HostConnection:
    """Credentials for the fake, standing for one of its hosts."""
    opts = {"host": host, "shutdown_timeout": "5", **options}
    return HostConnection(url=fake.url, username="root", password="password", options=opts)


@pytest.fixture
def tls_fake(tmp_path: Path) -> Iterator[FakeXapi]:
    """The fake pool served over HTTPS with a fresh self-signed certificate."""
    need(shutil.which("openssl") is not None, "openssl (apt package openssl) is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    server = FakeXapi(tls=(str(cert), str(key))).start()
    server.cert = str(cert)  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def driver(fake: FakeXapi) -> AsyncIterator[XenAPIDriver]:
    """A connected driver for host xs1."""
    drv = XenAPIDriver(conn(fake))
    await drv.connect()
    yield drv
    await drv.close()


def pool(fake: FakeXapi, name: str = "NFS shared") -> PoolSpec:
    """The PoolSpec of a fake SR."""
    sr = record(fake, "SR", name_label=name)
    return PoolSpec(uuid=sr["uuid"], name=name, kind="sr", url="", path=sr["uuid"])


def template(fake: FakeXapi, name: str = "Tiny Linux") -> TemplateSpec:
    """The TemplateSpec of a fake template."""
    vm = record(fake, "VM", name_label=name)
    return TemplateSpec(uuid=vm["uuid"], name=name, url="", size_bytes=1 << 30)


def spec(
    fake: FakeXapi,
    tmpl: TemplateSpec,
    sr: PoolSpec,
    *,
    path: str = "",
    bridge: str = "xenbr0",
    broadcast_uri: str = "",
    cpus: int = 2,
    memory_mb: int = 512,
) -> InstanceSpec:
    """An instance spec with one root volume and one NIC."""
    vid = str(uuid.uuid4())
    root = VolumeSpec(uuid=str(uuid.uuid4()), name="ROOT", size_bytes=0, pool=sr, path=path)
    nic = NicSpec(
        uuid=str(uuid.uuid4()),
        mac="02:00:00:00:00:01",
        ip=None,
        netmask=None,
        gateway=None,
        network_uuid="n",
        bridge=bridge,
        broadcast_uri=broadcast_uri,
    )
    return InstanceSpec(
        uuid=vid,
        name=f"i-2-{vid[:6]}-VM",
        display_name="t",
        cpus=cpus,
        cpu_mhz=1000,
        memory_mb=memory_mb,
        volumes=(root,),
        nics=(nic,),
        template=tmpl,
    )


async def deploy(fake: FakeXapi, drv: XenAPIDriver) -> InstanceSpec:
    """Prepare a root disk from Tiny Linux and define a VM on it."""
    base = spec(fake, template(fake), pool(fake))
    info = await drv.prepare_volume(base.volumes[0], base.template)
    root = VolumeSpec(**{**base.volumes[0].__dict__, "path": info.path})
    made = InstanceSpec(**{**base.__dict__, "volumes": (root,)})
    await drv.create_instance(made)
    return made


def counts(fake: FakeXapi) -> tuple[int, int, int, int]:
    """How many VMs, VDIs, VBDs and VIFs the fake holds."""
    return tuple(len(fake.db.table(c)) for c in ("VM", "VDI", "VBD", "VIF"))  # type: ignore[return-value]


async def until(predicate: Any, tries: int = 200) -> None:
    """Wait (politely) until a condition holds."""
    for _ in range(tries):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition never held")
