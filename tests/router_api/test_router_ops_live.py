"""Integration: egress policy, router stop/start, the periodic health check and security groups, via the API."""

from __future__ import annotations

import os
import signal

import pytest
from sqlmodel import select
from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.models import Alert, Event, Network
from virga.services.routing import check_routers, state_dir

from tests.api.netutil import network, offering, vm
from tests.router.netkit import get, try_sh
from tests.router_api.conftest import PUBLIC_GW, NetZone

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _guest(nz: NetZone, v: dict, name: str, bridge: str = "vg00001") -> str:
    """A DHCP'd guest namespace for a VM, serving HTTP on 8000."""
    ns = nz.lab.ns(name)
    nz.lab.plug(nz.host, bridge, ns, mac=v["nic"][0]["macaddress"])
    assert nz.lab.dhcp(ns)[0] == v["nic"][0]["ipaddress"]
    nz.lab.serve(ns, 8000)
    return ns


async def test_egress_stop_start_and_heal(app: VirgaApp, admin: VirgaClient, netzone: NetZone) -> None:
    nz, cloud = netzone, netzone.cloud
    net = await network(
        admin, app, cloud, "deny", networkofferingid=offering(app, "DefaultIsolatedNetworkOfferingEgressDeny")
    )
    g = _guest(nz, await vm(admin, app, cloud, net["id"], "solo"), "g")
    nz.lab.serve(nz.pub, 9000, body="public")
    assert get(g, f"http://{PUBLIC_GW}:9000/", timeout=1)[0] != 0  # egress denied by default
    rule = (
        await admin.run(
            "createEgressFirewallRule",
            networkid=net["id"],
            protocol="tcp",
            startport=9000,
            destcidrlist=f"{PUBLIC_GW}/32",
        )
    )["firewallrule"]
    assert get(g, f"http://{PUBLIC_GW}:9000/")[0] == 0
    await admin.run("deleteEgressFirewallRule", id=rule["id"])
    assert get(g, f"http://{PUBLIC_GW}:9000/", timeout=1)[0] != 0

    router = (await admin.list("listRouters", "router", networkid=net["id"]))[0]
    ns = "vr-" + net["id"].replace("-", "")[:8]
    assert (await admin.run("stopRouter", id=router["id"]))["router"]["state"] == "Stopped"
    assert try_sh(["true"], ns)[0] != 0  # the namespace is gone
    assert (await admin.run("startRouter", id=router["id"]))["router"]["state"] == "Running"
    assert nz.lab.dhcp(g)[0] == (await admin.list("listVirtualMachines", "virtualmachine"))[0]["nic"][0]["ipaddress"]

    rdir = state_dir(app) / net["id"]
    os.kill(int((rdir / "dnsmasq.pid").read_text().split()[0]), signal.SIGKILL)
    await check_routers(app)
    with app.db.session() as s:
        events = s.exec(select(Event).where(Event.type == "ROUTER.HEALTH")).all()
        alerts = s.exec(select(Alert).where(Alert.name == "DOMAIN_ROUTER")).all()
    assert any("dnsmasq restarted" in e.description for e in events) and alerts
    router = (await admin.list("listRouters", "router", networkid=net["id"], fetchhealthcheckresults=True))[0]
    assert not router["healthchecksfailed"]
    assert nz.lab.dhcp(g)[0]  # DHCP answers again


async def test_security_groups_filter_the_shared_bridge(app: VirgaApp, admin: VirgaClient, netzone: NetZone) -> None:
    nz, cloud = netzone, netzone.cloud
    net = (
        await admin.call(
            "createNetwork",
            name="flat",
            zoneid=cloud.zone,
            gateway="10.60.0.1",
            netmask="255.255.255.0",
            startip="10.60.0.10",
            endip="10.60.0.50",
            vlan="untagged",
            networkofferingid=offering(app, "DefaultSharedNetworkOfferingWithSGService"),
        )
    )["network"]
    web = (await admin.call("createSecurityGroup", name="web"))["securitygroup"]
    await admin.run(
        "authorizeSecurityGroupIngress", securitygroupid=web["id"], protocol="tcp", startport=8000, cidrlist="0.0.0.0/0"
    )
    vms = [
        await vm(admin, app, cloud, net["id"], "sg-web", securitygroupids=web["id"]),
        await vm(admin, app, cloud, net["id"], "sg-plain"),
    ]
    with app.db.session() as s:  # deployVirtualMachine put each VM in its groups, the deploy synced the bridge
        net_id = s.exec(select(Network).where(Network.uuid == net["id"])).one().id or 0
    bridge = f"vg{net_id:05d}"
    g_web, g_plain = _guest(nz, vms[0], "sw", bridge), _guest(nz, vms[1], "sp", bridge)
    ip_web, ip_plain = (v["nic"][0]["ipaddress"] for v in vms)
    assert get(g_plain, f"http://{ip_web}:8000/") == (0, f"{g_web} {ip_plain}")
    assert get(g_web, f"http://{ip_plain}:8000/", timeout=1)[0] != 0  # default group: no ingress
    await admin.run(
        "authorizeSecurityGroupIngress",
        securitygroupname="default",
        protocol="tcp",
        startport=8000,
        **{"usersecuritygrouplist[0].account": "admin", "usersecuritygrouplist[0].group": "web"},
    )
    assert get(g_web, f"http://{ip_plain}:8000/") == (0, f"{g_plain} {ip_web}")
    for v in vms:
        await admin.run("destroyVirtualMachine", id=v["id"], expunge=True)
    await admin.run("deleteNetwork", id=net["id"])
    assert try_sh(["nft", "list", "tables"], nz.host)[1].count("virga_sg_") == 0
