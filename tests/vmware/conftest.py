"""Fixtures: a running vcsim, drivers addressing its hosts, and spec builders."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pyVmomi import vim
from virga.drivers.base import InstanceSpec, NicSpec, PoolSpec, TemplateSpec, VolumeSpec
from virga.drivers.vmware import VMwareDriver

from tests.contract.harness_vmware import DATASTORE, PORT_GROUP, TEMPLATE, host_driver
from tests.vcsim.fixture import Vcsim, running

POOL = PoolSpec(uuid=DATASTORE, name=DATASTORE, kind="datastore", url="", path=f"[{DATASTORE}]")
TMPL = TemplateSpec(uuid=TEMPLATE, name=TEMPLATE, url=f"vsphere-template://{TEMPLATE}", format="VMDK")


@pytest.fixture
def sim(request: pytest.FixtureRequest) -> Iterator[Vcsim]:
    """A fresh simulated vCenter (extra launcher flags via @pytest.mark.vcsim_args(...))."""
    marker = request.node.get_closest_marker("vcsim_args")
    with running(*(marker.args if marker else ())) as s:
        yield s


@pytest.fixture
async def driver(sim: Vcsim) -> AsyncIterator[VMwareDriver]:
    """A connected driver addressing host DC0_C0_H0, recording task progress."""
    d = host_driver(sim, "DC0_C0_H0")
    progress: list[tuple[str, int]] = []
    d.progress = lambda what, pct: progress.append((what, pct))
    d.recorded = progress  # type: ignore[attr-defined]
    await d.connect()
    yield d
    await d.close()


def volume(name: str = "ROOT", pool: PoolSpec = POOL, size: int = 64 << 20, device_id: int = 0) -> VolumeSpec:
    """A volume spec on the simulator's datastore."""
    return VolumeSpec(
        uuid=str(uuid.uuid4()),
        name=name,
        size_bytes=size,
        pool=pool,
        device_id=device_id,
        kind="ROOT" if device_id == 0 else "DATADISK",
    )


def spec(root: VolumeSpec, template: TemplateSpec | None, bridge: str = PORT_GROUP) -> InstanceSpec:
    """An instance spec with one NIC on the given port group."""
    vid = str(uuid.uuid4())
    nic = NicSpec(
        uuid=str(uuid.uuid4()),
        mac="00:50:56:3f:00:01",
        ip="10.1.1.10",
        netmask="255.255.255.0",
        gateway="10.1.1.1",
        network_uuid="net-1",
        bridge=bridge,
    )
    return InstanceSpec(
        uuid=vid,
        name=f"i-2-{vid[:8]}-VM",
        display_name="t",
        cpus=2,
        cpu_mhz=500,
        memory_mb=256,
        volumes=(root,),
        nics=(nic,),
        template=template,
    )


async def deploy(d: VMwareDriver, template: TemplateSpec | None = TMPL, bridge: str = PORT_GROUP) -> InstanceSpec:
    """Prepare a root volume and define a VM from it."""
    root = volume()
    info = await d.prepare_volume(root, template)
    root = VolumeSpec(**{**root.__dict__, "path": info.path})
    s = spec(root, template, bridge)
    await d.create_instance(s)
    return s


def raw_vm(d: VMwareDriver, uuid_: str) -> vim.VirtualMachine:
    """The pyvmomi VM object, for checking what the driver did."""
    vm = d.session.content.searchIndex.FindByUuid(None, uuid_, True, True)
    assert vm is not None
    return vm


def props(d: VMwareDriver, obj: Any, *names: str) -> dict[str, Any]:
    """Selected properties of a managed object."""
    return d.session.props(obj, list(names))


def vm_names(d: VMwareDriver) -> set[str]:
    """Names of every VM and template in the simulator."""
    rows = d.session.retrieve(d.session.content.rootFolder, vim.VirtualMachine, ["name"])
    return {r["name"] for r in rows}


def pytest_configure(config: pytest.Config) -> None:
    """Register this folder's marker."""
    config.addinivalue_line("markers", "vcsim_args(*flags): extra flags for the vcsim launcher")
