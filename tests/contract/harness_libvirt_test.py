"""Contract harness for the KVM driver on libvirt's test driver (test:///<node.xml> fake hosts)."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from virga.drivers.base import HostConnection, PoolSpec, TemplateSpec

from tests.contract.harness import Harness, register

libvirt = pytest.importorskip("libvirt")

from virga.drivers.libvirt import LibvirtDriver  # noqa: E402

POOL_UUID = "5d9e7a6c-3c1e-4f5e-9a51-6b0f1d2c3e4f"
SECOND_POOL_UUID = "0b7f3c2e-8d4a-4c6b-9e1f-2a3b4c5d6e7f"

NODE_XML = """<node>
  <cpu>
    <mhz>2400</mhz><model>x86_64</model><nodes>1</nodes><sockets>1</sockets>
    <cores>4</cores><threads>1</threads><active>4</active>
  </cpu>
  <memory>8388608</memory>
  <pool type='dir'>
    <name>contract-pool</name>
    <uuid>{uuid}</uuid>
    <target><path>/var/lib/virga/contract-pool</path></target>
    <capacity unit='GiB'>100</capacity>
  </pool>
  <pool type='dir'>
    <name>contract-pool-2</name>
    <uuid>{second}</uuid>
    <target><path>/var/lib/virga/contract-pool-2</path></target>
    <capacity unit='GiB'>100</capacity>
  </pool>
</node>
"""


def write_node(directory: Path, name: str) -> str:
    """Write a fake host's node.xml and return its test:/// URL."""
    path = directory / f"{name}.xml"
    path.write_text(NODE_XML.format(uuid=POOL_UUID, second=SECOND_POOL_UUID))
    return f"test://{path}"


def write_template(directory: Path) -> Path:
    """A tiny but valid qcow2 header standing in for a template (the test driver stores no data)."""
    path = directory / "tiny.qcow2"
    header = b"QFI\xfb" + (3).to_bytes(4, "big") + bytes(16) + (64 << 20).to_bytes(8, "big")
    path.write_bytes(header + bytes(512 - len(header)))
    return path


@register("libvirt-test")
async def libvirt_test() -> AsyncIterator[Harness]:
    """Two fake libvirt hosts sharing a pool definition."""
    with tempfile.TemporaryDirectory(prefix="virga-lvtest-") as tmp:
        d = Path(tmp)
        one = LibvirtDriver(HostConnection(url=write_node(d, "host1")))
        two = LibvirtDriver(HostConnection(url=write_node(d, "host2")))
        await one.connect()
        await two.connect()
        pool = PoolSpec(
            uuid=POOL_UUID,
            name="contract-pool",
            kind="dir",
            url="file:///var/lib/virga/contract-pool",
            path="/var/lib/virga/contract-pool",
        )
        second_pool = PoolSpec(
            uuid=SECOND_POOL_UUID,
            name="contract-pool-2",
            kind="dir",
            url="file:///var/lib/virga/contract-pool-2",
            path="/var/lib/virga/contract-pool-2",
        )
        # the test driver's virStorageVolCreateXMLFrom finds its source only in the target pool, so it
        # cannot copy between pools: tests/libvirt/test_migrate_volume.py moves disks on a real libvirtd
        extra: dict[str, object] = {
            "second_pool": second_pool,
            "no_copy_between_pools": "libvirt's test driver copies volumes only within one pool",
        }
        tmpl = TemplateSpec(uuid="tmpl-tiny", name="tiny", url=f"file://{write_template(d)}", size_bytes=64 << 20)

        async def set_up() -> bool:
            """Whether the first host still defines the pool."""
            return pool.name in {p.name() for p in one.virt.listAllStoragePools()}

        try:
            yield Harness(
                driver=one,
                pool=pool,
                template=tmpl,
                bridge="virbr-contract",
                second=two,
                pool_set_up=set_up,
                extra=extra,
            )
        finally:
            await one.close()
            await two.close()
