"""Contract harness for the VMware driver: real pyvmomi over HTTPS against govmomi's vcsim on loopback."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from virga.drivers.base import HostConnection, PoolSpec, TemplateSpec
from virga.drivers.vmware import VMwareDriver

from tests.contract.harness import Harness, register
from tests.vcsim.fixture import Vcsim, running

DATASTORE = "LocalDS_0"
TEMPLATE = "virga-template-0"
PORT_GROUP = "DC0_DVPG0"


def host_driver(sim: Vcsim, host: str) -> VMwareDriver:
    """A driver addressing one host inside the simulated vCenter (self-signed cert: no verification)."""
    conn = HostConnection(
        url=sim.url,
        username=sim.username,
        password=sim.password,
        options={"verify_ssl": "false", "host": host},
    )
    return VMwareDriver(conn)


@register("vmware")
async def vmware() -> AsyncIterator[Harness]:
    """Two hosts of the simulator's cluster sharing a datastore, a template and a port group."""
    with running() as sim:
        one, two = host_driver(sim, "DC0_C0_H0"), host_driver(sim, "DC0_C0_H1")
        await one.connect()
        await two.connect()
        pool = PoolSpec(uuid=DATASTORE, name=DATASTORE, kind="datastore", url="", path=f"[{DATASTORE}]")
        tmpl = TemplateSpec(uuid=TEMPLATE, name=TEMPLATE, url=f"vsphere-template://{TEMPLATE}", format="VMDK")
        try:
            yield Harness(driver=one, pool=pool, template=tmpl, bridge=PORT_GROUP, second=two)
        finally:
            for d in (one, two):
                with contextlib.suppress(Exception):
                    await d.close()
