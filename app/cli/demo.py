"""virga demo: a ready sandbox cloud on the simulator, built through the API like any client would."""

from __future__ import annotations

from typing import Any

from virga.cli.datacenter import Say, deploy
from virga.client import Credentials, VirgaClient


def sandbox(name: str = "sandbox", pods: int = 2, clusters: int = 2, hosts: int = 4) -> dict[str, Any]:
    """The demo datacenter: 1 zone, 2 pods of 2 clusters of 4 simulated hosts, storage and public IPs."""
    return {
        "zones": [
            {
                "name": name,
                "networktype": "Advanced",
                "dns1": "9.9.9.9",
                "internaldns1": "10.0.0.2",
                "guestcidraddress": "10.1.0.0/16",
                "details": {"router": "simulated"},
                "physical_networks": [{"name": "physnet-1", "traffictypes": ["Guest", "Public", "Management"]}],
                "ipranges": [
                    {
                        "gateway": "203.0.113.1",
                        "netmask": "255.255.255.0",
                        "startip": "203.0.113.10",
                        "endip": "203.0.113.250",
                    }
                ],
                "pods": [
                    {
                        "name": f"pod-{p}",
                        "gateway": f"172.16.{p}.1",
                        "netmask": "255.255.255.0",
                        "startip": f"172.16.{p}.10",
                        "endip": f"172.16.{p}.200",
                        "clusters": [
                            {
                                "name": f"cluster-{p}-{c}",
                                "hypervisor": "Simulator",
                                "hosts": [
                                    {"url": f"simulator://host-{p}-{c}-{h}?cpus=16&mhz=2400&memory=64G"}
                                    for h in range(1, hosts + 1)
                                ],
                                "primary_storage": [
                                    {"name": f"primary-{p}-{c}", "url": f"simulator://primary-{p}-{c}"}
                                ],
                            }
                            for c in range(1, clusters + 1)
                        ],
                    }
                    for p in range(1, pods + 1)
                ],
                "secondary_storage": [{"name": "secondary", "url": "nfs://127.0.0.1/export/secondary"}],
            }
        ]
    }


async def build(admin: VirgaClient, say: Say = print, vms: int = 3) -> dict[str, str]:
    """Build the sandbox zone, a template, a demo user with a network and a few running VMs."""
    (zone,) = await deploy(admin, sandbox(), say)
    tmpl = (
        await admin.call(
            "registerTemplate",
            name="tiny-linux",
            displaytext="Tiny Linux (simulated)",
            url="simulator://templates/tiny-linux.qcow2",
            zoneid=zone,
            format="QCOW2",
            hypervisor="Simulator",
            ostypeid=await ostype(admin),
            ispublic=True,
            isfeatured=True,
        )
    )["template"][0]
    await _wait_ready(admin, tmpl["id"])
    say(f"template {tmpl['name']} ready")
    root = (await admin.list("listDomains", "domain", listall=True))[0]
    acct = (
        await admin.call(
            "createAccount",
            accounttype=0,
            username="demo",
            password="demo-password",
            email="demo@example.org",
            firstname="Demo",
            lastname="User",
            account="demo",
            domainid=root["id"],
        )
    )["account"]
    user = acct["user"][0]
    keys = (await admin.call("registerUserKeys", id=user["id"]))["userkeys"]
    demo = admin.as_user(Credentials(apikey=keys["apikey"], secretkey=keys["secretkey"]))
    offering = (
        await demo.list(
            "listNetworkOfferings", "networkoffering", name="DefaultIsolatedNetworkOfferingWithSourceNatService"
        )
    )[0]
    net = (
        await demo.call(
            "createNetwork",
            name="demo-net",
            displaytext="Demo network",
            zoneid=zone,
            networkofferingid=offering["id"],
            gateway="10.1.1.1",
            netmask="255.255.255.0",
        )
    )["network"]
    small = (await demo.list("listServiceOfferings", "serviceoffering", name="Small Instance"))[0]
    for i in range(1, vms + 1):
        vm = (
            await demo.run(
                "deployVirtualMachine",
                zoneid=zone,
                templateid=tmpl["id"],
                name=f"demo-vm-{i}",
                serviceofferingid=small["id"],
                networkids=net["id"],
            )
        )["virtualmachine"]
        say(f"vm {vm['name']} {vm['state']} {vm['nic'][0]['ipaddress']}")
    await demo.close()
    return {"zone": zone, "template": tmpl["id"], "network": net["id"], "demo_apikey": keys["apikey"]}


async def ostype(c: VirgaClient) -> str:
    """The id of the 'Other Linux (64-bit)' OS type."""
    types = await c.list("listOsTypes", "ostype", description="Other Linux (64-bit)")
    return str(types[0]["id"])


async def _wait_ready(c: VirgaClient, tmpl_id: str) -> None:
    """Wait until a template is ready (its download job finishes)."""
    import asyncio

    for _ in range(600):
        found = await c.list("listTemplates", "template", templatefilter="all", id=tmpl_id)
        if found and found[0].get("isready"):
            return
        await asyncio.sleep(0.1)
    raise SystemExit("virga: the demo template did not become ready")
