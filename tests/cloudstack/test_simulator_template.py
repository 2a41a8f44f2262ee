"""CloudStack's simulator ships a featured template; virga's simulator zones have it once a host joins."""

from __future__ import annotations

from virga.client import VirgaClient

NAME = "CentOS 5.6 (64-bit) no GUI (Simulator)"


async def _sim_zone(admin: VirgaClient, hosts: int) -> dict[str, str]:
    """A simulator zone built through the API, with its hosts added by addHost."""
    z = (await admin.run("createZone", name="z", dns1="9.9.9.9", internaldns1="10.0.0.2", networktype="Advanced"))[
        "zone"
    ]
    pn = (await admin.run("createPhysicalNetwork", zoneid=z["id"], name="physnet"))["physicalnetwork"]
    for tt in ("Guest", "Public", "Management"):
        await admin.run("addTrafficType", physicalnetworkid=pn["id"], traffictype=tt)
    await admin.run("updatePhysicalNetwork", id=pn["id"], state="Enabled")
    pod = (
        await admin.run(
            "createPod",
            zoneid=z["id"],
            name="pod",
            gateway="172.16.0.1",
            netmask="255.255.255.0",
            startip="172.16.0.10",
            endip="172.16.0.100",
        )
    )["pod"]
    cl = (
        await admin.run(
            "addCluster",
            zoneid=z["id"],
            podid=pod["id"],
            clustername="cl",
            hypervisor="Simulator",
            clustertype="CloudManaged",
        )
    )["cluster"][0]
    for i in range(hosts):
        await admin.run(
            "addHost",
            zoneid=z["id"],
            podid=pod["id"],
            clusterid=cl["id"],
            hypervisor="Simulator",
            url=f"simulator://h{i}",
        )
    return {"zone": z["id"], "pod": pod["id"], "cluster": cl["id"]}


async def test_featured_simulator_template(admin: VirgaClient) -> None:
    """Marvin's get_template(): the zone's featured BUILTIN template, ready, once however many hosts join."""
    assert await admin.list("listTemplates", "template", templatefilter="featured") == []
    ids = await _sim_zone(admin, hosts=2)
    (t,) = await admin.list("listTemplates", "template", templatefilter="featured", zoneid=ids["zone"])
    assert t["name"] == NAME and t["displaytext"] == NAME
    assert t["isready"] is True and t["templatetype"] == "BUILTIN" and t["ispublic"] is True
    assert t["isfeatured"] is True and t["hypervisor"] == "Simulator" and t["format"] == "VHD"
    assert t["ostypename"] == "CentOS 5.6 (64-bit)" and t["account"] == "system"


async def test_guest_from_the_builtin_template(admin: VirgaClient) -> None:
    """A VM deploys from the built-in template."""
    ids = await _sim_zone(admin, hosts=1)
    await admin.run(
        "createStoragePool",
        zoneid=ids["zone"],
        podid=ids["pod"],
        clusterid=ids["cluster"],
        name="ps",
        url="simulator://ps",
    )
    await admin.run(
        "createVlanIpRange",
        zoneid=ids["zone"],
        forvirtualnetwork=True,
        vlan="untagged",
        gateway="203.0.113.1",
        netmask="255.255.255.0",
        startip="203.0.113.10",
        endip="203.0.113.60",
    )
    await admin.run("updateZone", id=ids["zone"], allocationstate="Enabled")
    (t,) = await admin.list("listTemplates", "template", templatefilter="featured", zoneid=ids["zone"])
    (off,) = await admin.list(
        "listNetworkOfferings", "networkoffering", name="DefaultIsolatedNetworkOfferingWithSourceNatService"
    )
    net = (
        await admin.run("createNetwork", name="n1", displaytext="n1", zoneid=ids["zone"], networkofferingid=off["id"])
    )["network"]
    (so,) = await admin.list("listServiceOfferings", "serviceoffering", name="Small Instance")
    vm = (
        await admin.run(
            "deployVirtualMachine",
            zoneid=ids["zone"],
            templateid=t["id"],
            serviceofferingid=so["id"],
            networkids=net["id"],
        )
    )["virtualmachine"]
    assert vm["state"] == "Running" and vm["templatename"] == NAME
