"""Contract harness for the XenAPI driver, against the fake XAPI over HTTP on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from virga.drivers.base import HostConnection, PoolSpec, TemplateSpec
from virga.drivers.xenapi import XenAPIDriver

from tests.contract.harness import Harness, register
from tests.fakes.xapi import FakeXapi


@register("xenapi")
async def xenapi() -> AsyncIterator[Harness]:
    """Two hosts of one fake pool, driven through its master."""
    fake = FakeXapi().start()
    try:
        db = fake.db
        hosts = {rec["name_label"]: rec["uuid"] for rec in db.table("host").values()}
        opts = {"shutdown_timeout": "5"}
        one = XenAPIDriver(
            HostConnection(url=fake.url, username="root", password="password", options={**opts, "host": hosts["xs1"]})
        )
        two = XenAPIDriver(
            HostConnection(url=fake.url, username="root", password="password", options={**opts, "host": hosts["xs2"]})
        )
        await one.connect()
        await two.connect()
        sr = next(rec for rec in db.table("SR").values() if rec["name_label"] == "NFS shared")
        tiny = next(rec for rec in db.table("VM").values() if rec["name_label"] == "Tiny Linux")
        pool = PoolSpec(
            uuid=sr["uuid"], name=sr["name_label"], kind="sr", url=f"xenserver-sr://nfs/{sr['uuid']}", path=sr["uuid"]
        )
        tmpl = TemplateSpec(
            uuid=tiny["uuid"],
            name="Tiny Linux",
            url=f"xenserver-template://{tiny['uuid']}",
            format="VHD",
            size_bytes=1 << 30,
        )
        yield Harness(driver=one, pool=pool, template=tmpl, bridge="xenbr0", second=two, extra={"fake": fake})
        await one.close()
        await two.close()
    finally:
        await asyncio.to_thread(fake.stop)
