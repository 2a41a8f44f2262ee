"""Discovery and deployment from templates against the fake XAPI."""

from __future__ import annotations

import pytest
from virga.drivers.base import InvalidSpec, PowerState, TemplateSpec, VolumeSpec
from virga.drivers.xenapi import XenAPIDriver

from tests.fakes.xapi import FakeXapi
from tests.xenapi.conftest import counts, deploy, pool, record, spec, template


async def test_discover_inventory(fake: FakeXapi, driver: XenAPIDriver) -> None:
    inv = await driver.discover()
    assert sorted(h.facts.name for h in inv.hosts) == ["xs1", "xs2"]
    assert all(h.facts.hypervisor == "XenServer" and h.facts.memory_bytes == 64 << 30 for h in inv.hosts)
    assert all(h.conn.options["host"] == h.facts.extra["uuid"] and h.cluster == "virga-lab" for h in inv.hosts)
    assert {p.name for p in inv.pools} == {"NFS shared"}  # a local SR is not cluster-wide in a 2-host pool
    assert all(p.kind == "sr" for p in inv.pools)
    assert "Pool-wide network associated with eth0" in inv.networks
    names = {t.name: t for t in inv.templates}
    assert set(names) == {"Tiny Linux", "Debian Bookworm 12"}
    assert names["Tiny Linux"].size_bytes == 1 << 30


async def test_deploy_from_prepared_volume(fake: FakeXapi, driver: XenAPIDriver) -> None:
    made = await deploy(fake, driver)
    info = await driver.get_instance(made.uuid)
    assert info.state == PowerState.STOPPED and info.cpus == 2 and info.memory_mb == 512
    vm = record(fake, "VM", name_label=made.name)
    assert vm["is_a_template"] is False and vm["VCPUs_max"] == "2"
    assert vm["memory_static_max"] == str(512 << 20)  # 64-bit ints travel as strings
    [vbd] = vm["VBDs"]
    assert fake.db.get("VDI", fake.db.get("VBD", vbd)["VDI"])["uuid"] == made.volumes[0].path
    [vif] = vm["VIFs"]
    assert fake.db.get("network", fake.db.get("VIF", vif)["network"])["bridge"] == "xenbr0"
    await driver.destroy_instance(made.uuid)
    await driver.delete_volume(made.volumes[0])
    assert counts(fake)[1] == 1  # only the template's disk is left


async def test_deploy_copy_and_provision_on_chosen_sr(fake: FakeXapi, driver: XenAPIDriver) -> None:
    before = counts(fake)
    local = pool(fake, "Local storage xs1")
    s = spec(fake, template(fake, "Debian Bookworm 12"), local, bridge="", broadcast_uri="vlan://100")
    await driver.create_instance(s)
    vm = record(fake, "VM", name_label=s.name)
    [vbd] = vm["VBDs"]
    vdi = fake.db.get("VDI", fake.db.get("VBD", vbd)["VDI"])
    assert fake.db.get("SR", vdi["SR"])["name_label"] == "Local storage xs1"
    assert vdi["other_config"]["virga_volume"] == s.volumes[0].uuid
    assert "disks" not in vm["other_config"]
    [vif] = vm["VIFs"]
    assert fake.db.get("network", fake.db.get("VIF", vif)["network"])["name_label"] == "VLAN 100"
    await driver.destroy_instance(s.uuid)
    await driver.delete_volume(s.volumes[0])  # found by its virga uuid tag
    assert counts(fake) == before


async def test_missing_template_is_clear_and_leaves_nothing(fake: FakeXapi, driver: XenAPIDriver) -> None:
    before = counts(fake)
    ghost = TemplateSpec(uuid="0000-none", name="No Such Template", url="")
    vol = VolumeSpec(uuid="v1", name="ROOT", size_bytes=1 << 30, pool=pool(fake))
    with pytest.raises(InvalidSpec, match="no template 'No Such Template'"):
        await driver.prepare_volume(vol, ghost)
    with pytest.raises(InvalidSpec, match="no template"):
        await driver.create_instance(spec(fake, ghost, pool(fake)))
    assert counts(fake) == before


async def test_failure_midway_is_undone(fake: FakeXapi, driver: XenAPIDriver) -> None:
    before = counts(fake)
    fake.db.inject("VIF.create", "INTERNAL_ERROR", "injected")
    with pytest.raises(Exception, match="INTERNAL_ERROR"):
        await driver.create_instance(spec(fake, template(fake, "Debian Bookworm 12"), pool(fake)))
    assert counts(fake) == before


async def test_unknown_network_is_refused_before_any_change(fake: FakeXapi, driver: XenAPIDriver) -> None:
    before = counts(fake)
    with pytest.raises(InvalidSpec, match="no network"):
        await driver.create_instance(spec(fake, template(fake), pool(fake), bridge="nope"))
    with pytest.raises(InvalidSpec, match="VLAN 42"):
        await driver.create_instance(spec(fake, template(fake), pool(fake), broadcast_uri="vlan://42"))
    assert counts(fake) == before
