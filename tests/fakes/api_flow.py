"""API-level helpers shared by the XenServer and vSphere import tests: add a cluster, deploy, drive a VM."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.models import ServiceOffering

from tests.factories import Cloud, make_network


def offering(app: VirgaApp, name: str = "Small Instance") -> str:
    """The uuid of a built-in service offering."""
    with app.db.session() as s:
        return s.exec(select(ServiceOffering).where(ServiceOffering.name == name)).one().uuid


async def add_cluster(
    admin: VirgaClient, cloud: Cloud, hypervisor: str, url: str, username: str, password: str, name: str = "imported"
) -> dict[str, Any]:
    """addCluster with a pool master / vCenter URL; returns the cluster object."""
    body = await admin.call(
        "addCluster",
        zoneid=cloud.zone,
        podid=cloud.pod,
        clustername=name,
        hypervisor=hypervisor,
        clustertype="CloudManaged",
        url=url,
        username=username,
        password=password,
    )
    return body["cluster"][0]


async def inventory(admin: VirgaClient, cluster_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The hosts and primary storage pools of a cluster, as the API lists them."""
    hosts = await admin.list("listHosts", "host", clusterid=cluster_id)
    pools = await admin.list("listStoragePools", "storagepool", clusterid=cluster_id)
    return hosts, pools


async def template_named(admin: VirgaClient, name: str, hypervisor: str) -> dict[str, Any]:
    """The imported template with that name."""
    found = [
        t
        for t in await admin.list("listTemplates", "template", templatefilter="all", hypervisor=hypervisor)
        if t["name"] == name
    ]
    assert len(found) == 1, found
    return found[0]


async def deploy(app: VirgaApp, admin: VirgaClient, cloud: Cloud, template_id: str, **extra: Any) -> dict[str, Any]:
    """Deploy a VM from a template on a fresh isolated network; returns the VM object."""
    net = make_network(app, cloud.zone, "admin")
    res = await admin.run(
        "deployVirtualMachine",
        zoneid=cloud.zone,
        templateid=template_id,
        serviceofferingid=offering(app),
        networkids=net,
        **extra,
    )
    return dict(res["virtualmachine"])


async def other_host(admin: VirgaClient, vm: dict[str, Any]) -> dict[str, Any]:
    """Another Up host of the VM's cluster."""
    mine = (await admin.list("listHosts", "host", id=vm["hostid"]))[0]
    hosts = await admin.list("listHosts", "host", clusterid=mine["clusterid"])
    return next(h for h in hosts if h["id"] != vm["hostid"])


async def power_cycle(admin: VirgaClient, vm_id: str) -> None:
    """Stop, start and reboot a VM through the API, checking the states it reports."""
    assert (await admin.run("stopVirtualMachine", id=vm_id))["virtualmachine"]["state"] == "Stopped"
    assert (await admin.run("startVirtualMachine", id=vm_id))["virtualmachine"]["state"] == "Running"
    assert (await admin.run("rebootVirtualMachine", id=vm_id))["virtualmachine"]["state"] == "Running"


async def snapshot_cycle(admin: VirgaClient, vm_id: str) -> None:
    """Snapshot a running VM (disks only), stop it, revert, start it and delete the snapshot through the API."""
    snap = (await admin.run("createVMSnapshot", virtualmachineid=vm_id, name="snap1"))["vmsnapshot"]
    assert snap["state"] == "Ready"
    await admin.run("stopVirtualMachine", id=vm_id)
    await admin.run("revertToVMSnapshot", vmsnapshotid=snap["id"])
    assert (await admin.run("startVirtualMachine", id=vm_id))["virtualmachine"]["state"] == "Running"
    await admin.run("deleteVMSnapshot", vmsnapshotid=snap["id"])
    assert await admin.list("listVMSnapshot", "vmSnapshot", virtualmachineid=vm_id) == []


async def scale_stopped(app: VirgaApp, admin: VirgaClient, vm_id: str) -> dict[str, Any]:
    """Stop the VM and scale it to the Medium offering; returns the VM object."""
    await admin.run("stopVirtualMachine", id=vm_id)
    res = await admin.run("scaleVirtualMachine", id=vm_id, serviceofferingid=offering(app, "Medium Instance"))
    vm = dict(res["virtualmachine"])
    assert vm["memory"] == 1024
    return vm


async def destroy(admin: VirgaClient, vm_id: str) -> None:
    """Destroy with expunge and check the VM is gone from the API."""
    await admin.run("destroyVirtualMachine", id=vm_id, expunge=True)
    assert await admin.list("listVirtualMachines", "virtualmachine", listall=True) == []
