"""Golden-file tests of the pure domain XML rendering."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from virga.drivers.base import InstanceSpec, InvalidSpec, NicSpec, PoolSpec, VolumeSpec

pytest.importorskip("libvirt")

from virga.drivers.libvirt.domain_xml import render_disk, render_domain  # noqa: E402
from virga.drivers.libvirt.domains import rescale_xml  # noqa: E402

GOLDEN = Path(__file__).parent / "golden"
POOL = PoolSpec(uuid="p1", name="pool", kind="dir", url="file:///pool", path="/pool")


def _spec(**details: str) -> InstanceSpec:
    """A fixed two-disk, one-NIC spec."""
    root = VolumeSpec(
        uuid="11111111-2222-3333-4444-555555555555", name="ROOT", size_bytes=1, pool=POOL, path="/pool/root.qcow2"
    )
    data = VolumeSpec(
        uuid="aaaaaaaa-2222-3333-4444-555555555555",
        name="DATA",
        size_bytes=1,
        pool=POOL,
        path="/pool/data.qcow2",
        kind="DATADISK",
        device_id=1,
    )
    nic = NicSpec(
        uuid="n1",
        mac="02:00:0A:01:01:0A",
        ip="10.1.1.10",
        netmask="255.255.255.0",
        gateway="10.1.1.1",
        network_uuid="net",
        bridge="br-guest",
    )
    return InstanceSpec(
        uuid="6f1c2b1e-9d7a-4c3e-8b2a-0e5f4d3c2b1a",
        name="i-2-10-VM",
        display_name="web",
        cpus=2,
        cpu_mhz=1000,
        memory_mb=256,
        volumes=(root, data),
        nics=(nic,),
        hostname="web",
        details=details,
    )


def _golden(name: str, text: str) -> None:
    """Compare with a golden file (VIRGA_UPDATE_GOLDEN=1 rewrites it)."""
    path = GOLDEN / name
    if os.environ.get("VIRGA_UPDATE_GOLDEN") == "1" or not path.exists():
        path.write_text(text)
    assert text == path.read_text()


def test_virtio_qemu_domain() -> None:
    _golden("domain-virtio-qemu.xml", render_domain(_spec(), "qemu", "/var/log/virga"))


def test_no_virtio_with_vnc_on_kvm() -> None:
    _golden("domain-ide-vnc-kvm.xml", render_domain(_spec(virtio="false", vnc="true"), "kvm", "/var/log/virga"))


def test_disk_for_attach() -> None:
    _golden("disk-vdb.xml", render_disk(_spec().volumes[1]))


def test_rendering_refuses_bad_specs() -> None:
    with pytest.raises(InvalidSpec):
        render_domain(
            InstanceSpec(uuid="u", name="n", display_name="d", cpus=0, cpu_mhz=0, memory_mb=64, volumes=()), "qemu"
        )


def test_rescale_keeps_the_rest() -> None:
    xml = rescale_xml(render_domain(_spec(), "qemu"), 4, 512)
    assert "<vcpu>4</vcpu>" in xml and '<memory unit="KiB">524288</memory>' in xml
    assert "br-guest" in xml and "virga" in xml
