"""addCluster with hypervisor=VMware against vcsim: import a vCenter cluster, drive a VM, refuse bad input."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlparse

import pytest
from pyVmomi import vim
from virga.client import ApiError, VirgaClient
from virga.core import VirgaApp
from virga.drivers.base import HostConnection
from virga.drivers.vmware import VMwareDriver

from tests.factories import Cloud
from tests.fakes import api_flow as flow
from tests.vcsim.fixture import Vcsim


def cluster_url(sim: Vcsim, path: str = "/DC0/DC0_C0", query: str = "verify_ssl=false&guest_network=DC0_DVPG0") -> str:
    """A CloudStack-style vCenter URL: https://vcenter/datacenter/cluster, with driver options."""
    netloc = urlparse(sim.url).netloc
    return f"https://{netloc}{path}" + (f"?{query}" if query else "")


async def sim_vms(sim: Vcsim) -> set[str]:
    """Names of every VM and template the simulator holds."""
    d = VMwareDriver(
        HostConnection(url=sim.url, username=sim.username, password=sim.password, options={"verify_ssl": "false"})
    )
    await d.connect()
    try:
        rows = d.session.retrieve(d.session.content.rootFolder, vim.VirtualMachine, ["name"])
        return {r["name"] for r in rows}
    finally:
        await d.close()


async def test_add_cluster_imports_the_vcenter_cluster(admin: VirgaClient, cloud: Cloud, sim: Vcsim) -> None:
    cluster = await flow.add_cluster(admin, cloud, "VMware", cluster_url(sim), sim.username, sim.password)
    assert cluster["hypervisortype"] == "VMware"
    hosts, pools = await flow.inventory(admin, cluster["id"])
    assert sorted(h["name"] for h in hosts) == ["DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2"]  # not standalone DC0_H0
    assert all(h["state"] == "Up" and h["hypervisor"] == "VMware" and h["memorytotal"] > 0 for h in hosts)
    assert [(p["name"], p["type"], p["path"]) for p in pools] == [("LocalDS_0", "VMFS", "[LocalDS_0]")]
    tmpl = await flow.template_named(admin, "virga-template-0", "VMware")
    assert tmpl["isready"] is True and tmpl["format"] == "OVA"


async def test_vm_lifecycle_on_vcsim(app: VirgaApp, admin: VirgaClient, cloud: Cloud, sim: Vcsim) -> None:
    await flow.add_cluster(admin, cloud, "VMware", cluster_url(sim), sim.username, sim.password)
    tmpl = await flow.template_named(admin, "virga-template-0", "VMware")
    before = await sim_vms(sim)
    vm = await flow.deploy(app, admin, cloud, tmpl["id"], name="vm-1")
    assert vm["state"] == "Running" and vm["hypervisor"] == "VMware"
    host = await _driver_for(app, vm["hostid"])
    info = await host.get_instance(vm["id"])
    assert info.state.value == "Running" and info.memory_mb == 512
    await flow.power_cycle(admin, vm["id"])
    await flow.snapshot_cycle(admin, vm["id"])
    target = await flow.other_host(admin, vm)
    moved = await admin.run("migrateVirtualMachine", virtualmachineid=vm["id"], hostid=target["id"])
    assert moved["virtualmachine"]["hostid"] == target["id"]
    there = await _driver_for(app, target["id"])
    assert (await there.get_instance(vm["id"])).state.value == "Running"
    await flow.scale_stopped(app, admin, vm["id"])
    assert (await there.get_instance(vm["id"])).memory_mb == 1024
    await flow.destroy(admin, vm["id"])
    assert await sim_vms(sim) == before


async def _driver_for(app: VirgaApp, host_uuid: str) -> Any:
    """The connected driver of a host row, by uuid."""
    from sqlmodel import select
    from virga.models import Host

    with app.db.session() as s:
        host = s.exec(select(Host).where(Host.uuid == host_uuid)).one()
    return await app.hosts.driver(host)


async def test_what_vmware_cannot_do_is_refused(app: VirgaApp, admin: VirgaClient, cloud: Cloud, sim: Vcsim) -> None:
    await flow.add_cluster(admin, cloud, "VMware", cluster_url(sim), sim.username, sim.password)
    tmpl = await flow.template_named(admin, "virga-template-0", "VMware")
    vm = await flow.deploy(app, admin, cloud, tmpl["id"])
    [root] = await admin.list("listVolumes", "volume", virtualmachineid=vm["id"])
    with pytest.raises(ApiError) as err:
        await admin.run("createSnapshot", volumeid=root["id"])
    assert err.value.code == 432 and "not supported by the VMware hypervisor" in err.value.text
    with pytest.raises(ApiError) as err:
        await admin.run("resizeVolume", id=root["id"], size=20)
    assert err.value.code == 432 and "not supported by the VMware hypervisor" in err.value.text
    await flow.destroy(admin, vm["id"])


async def _refused(admin: VirgaClient, cloud: Cloud, url: str, user: str, password: str) -> ApiError:
    """addCluster that must fail and leave nothing in the database."""
    with pytest.raises(ApiError) as err:
        await flow.add_cluster(admin, cloud, "VMware", url, user, password)
    assert [c["name"] for c in await admin.list("listClusters", "cluster")] == ["cluster-1"]
    assert all(h["hypervisor"] == "Simulator" for h in await admin.list("listHosts", "host"))
    assert all(p["type"] == "Simulator" for p in await admin.list("listStoragePools", "storagepool"))
    assert [
        t for t in await admin.list("listTemplates", "template", templatefilter="all") if t["hypervisor"] == "VMware"
    ] == []
    return err.value


async def test_bad_input_is_refused(admin: VirgaClient, cloud: Cloud, sim: Vcsim) -> None:
    before = await sim_vms(sim)
    err = await _refused(admin, cloud, cluster_url(sim), sim.username, "wrong")
    assert err.code == 431 and "wrong username or password" in err.text
    err = await _refused(admin, cloud, cluster_url(sim, query=""), sim.username, sim.password)
    assert err.code == 534 and "certificate could not be verified" in err.text and "verify_ssl=false" in err.text
    err = await _refused(admin, cloud, cluster_url(sim, path="/DC9/DC0_C0"), sim.username, sim.password)
    assert err.code == 431 and "datacenter 'DC9' does not exist" in err.text
    err = await _refused(admin, cloud, cluster_url(sim, path="/DC0/nope"), sim.username, sim.password)
    assert err.code == 431 and "cluster 'nope' does not exist" in err.text
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    err = await _refused(admin, cloud, f"https://127.0.0.1:{port}/DC0/DC0_C0", sim.username, sim.password)
    assert err.code == 534 and "Unable to reach VMware" in err.text
    assert await sim_vms(sim) == before


async def test_template_gone_from_vcenter(app: VirgaApp, admin: VirgaClient, cloud: Cloud, sim: Vcsim) -> None:
    await flow.add_cluster(admin, cloud, "VMware", cluster_url(sim), sim.username, sim.password)
    tmpl = await flow.template_named(admin, "virga-template-0", "VMware")
    d = VMwareDriver(
        HostConnection(url=sim.url, username=sim.username, password=sim.password, options={"verify_ssl": "false"})
    )
    await d.connect()
    try:
        row = next(
            r
            for r in d.session.retrieve(d.session.content.rootFolder, vim.VirtualMachine, ["name"])
            if r["name"] == "virga-template-0"
        )
        row["_obj"].UnregisterVM()
    finally:
        await d.close()
    before = await sim_vms(sim)
    with pytest.raises(ApiError) as err:
        await flow.deploy(app, admin, cloud, tmpl["id"])
    assert err.value.code == 530 and "template 'virga-template-0' does not exist" in err.value.text
    assert await admin.list("listVirtualMachines", "virtualmachine", listall=True) == []
    assert await sim_vms(sim) == before
