"""Integration: networks, IPs and rules created through the API take effect on a real virtual router."""

from __future__ import annotations

import subprocess

import pytest
from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.services.network import backend_for

from tests.api.netutil import fails, ip, network, vm
from tests.router.netkit import get, sh, try_sh
from tests.router_api.conftest import PUBLIC_GW, NetZone

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _netns_list() -> str:
    """Names of every network namespace."""
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


async def _rendered(app: VirgaApp, net_uuid: str) -> dict[str, str]:
    """The router's rendered files, through the netns backend."""
    from sqlmodel import select
    from virga.models import Network, Zone

    with app.db.session() as s:
        net = s.exec(select(Network).where(Network.uuid == net_uuid)).one()
        zone = s.get(Zone, net.zone_id)
    return await backend_for(app, zone).rendered(app, net.id)  # type: ignore[attr-defined]


def _eventually(ns: str, url: str, tries: int = 12) -> tuple[int, str]:
    """GET until it answers: after a rebuild the router's veths have new MACs and peers re-learn them by ARP."""
    for _ in range(tries):
        rc, body = get(ns, url, timeout=2)
        if rc == 0:
            return rc, body
    return rc, body


async def _guests(nz: NetZone, vms: list[dict]) -> list[str]:
    """A namespace per VM on the guest bridge with the VM's MAC; DHCP must give it the VM's address and name."""
    out = []
    for i, v in enumerate(vms):
        nic = v["nic"][0]
        ns = nz.lab.ns(f"g{i}")
        nz.lab.plug(nz.host, "vg00001", ns, mac=nic["macaddress"])
        lease = nz.lab.dhcp(ns)
        assert lease[:2] == [nic["ipaddress"], v["name"]]
        nz.lab.serve(ns, 8000)
        out.append(ns)
    return out


async def test_network_through_the_api(app: VirgaApp, admin: VirgaClient, netzone: NetZone) -> None:
    nz, cloud = netzone, netzone.cloud
    net = await network(admin, app, cloud, "live")
    vms = [await vm(admin, app, cloud, net["id"], name) for name in ("web-1", "web-2")]
    g1, g2 = await _guests(nz, vms)
    snat = (await admin.list("listPublicIpAddresses", "publicipaddress", issourcenat=True))[0]["ipaddress"]
    nz.lab.serve(nz.pub, 9000, body="public")
    assert get(g1, f"http://{PUBLIC_GW}:9000/") == (0, f"public {snat}")
    assert vms[1]["nic"][0]["ipaddress"] in sh(["busybox", "nslookup", "web-2.cloud.internal", "10.1.1.1"], ns=g1)
    assert get(g1, "http://10.1.1.1/latest/meta-data/local-hostname") == (0, "web-1")

    pub = await ip(admin, net["id"])
    await admin.run(
        "createPortForwardingRule",
        ipaddressid=pub["id"],
        privateport=8000,
        publicport=2222,
        protocol="tcp",
        virtualmachineid=vms[0]["id"],
    )
    assert get(nz.pub, f"http://{pub['ipaddress']}:2222/") == (0, f"{g1} {PUBLIC_GW}")
    await fails(
        537,
        admin.run(
            "createPortForwardingRule",
            ipaddressid=pub["id"],
            privateport=22,
            publicport=2222,
            protocol="tcp",
            virtualmachineid=vms[1]["id"],
        ),
    )

    lb = (
        await admin.run(
            "createLoadBalancerRule",
            publicipid=pub["id"],
            name="web",
            algorithm="roundrobin",
            privateport=8000,
            publicport=80,
        )
    )["loadbalancer"]
    await admin.run("assignToLoadBalancerRule", id=lb["id"], virtualmachineids=f"{vms[0]['id']},{vms[1]['id']}")
    seen = {get(nz.pub, f"http://{pub['ipaddress']}/")[1].split()[0] for _ in range(6)}
    assert seen == {g1, g2}

    nat = await ip(admin, net["id"])
    await admin.call("enableStaticNat", ipaddressid=nat["id"], virtualmachineid=vms[1]["id"])
    assert get(nz.pub, f"http://{nat['ipaddress']}:8000/", timeout=1)[0] != 0  # static NAT: firewall first
    fw = (
        await admin.run(
            "createFirewallRule", ipaddressid=nat["id"], protocol="tcp", startport=8000, cidrlist=f"{PUBLIC_GW}/32"
        )
    )["firewallrule"]
    assert get(nz.pub, f"http://{nat['ipaddress']}:8000/") == (0, f"{g2} {PUBLIC_GW}")
    assert get(g2, f"http://{PUBLIC_GW}:9000/") == (0, f"public {nat['ipaddress']}")

    before = await _rendered(app, net["id"])
    assert before["dhcp-hosts"] and before["nftables.nft"] and before["haproxy.cfg"]
    await admin.run("restartNetwork", id=net["id"], cleanup=True)
    assert await _rendered(app, net["id"]) == before
    assert _eventually(nz.pub, f"http://{pub['ipaddress']}:2222/") == (0, f"{g1} {PUBLIC_GW}")
    assert _eventually(nz.pub, f"http://{nat['ipaddress']}:8000/") == (0, f"{g2} {PUBLIC_GW}")
    assert _eventually(g1, f"http://{PUBLIC_GW}:9000/") == (0, f"public {snat}")

    await admin.run("deleteFirewallRule", id=fw["id"])
    assert get(nz.pub, f"http://{nat['ipaddress']}:8000/", timeout=1)[0] != 0
    router = (await admin.list("listRouters", "router", networkid=net["id"], fetchhealthcheckresults=True))[0]
    assert router["state"] == "Running" and not router["healthchecksfailed"]
    assert {c["checkname"] for c in router["healthcheckresults"]} >= {"dnsmasq", "nftables", "haproxy"}

    for v in vms:
        await admin.run("destroyVirtualMachine", id=v["id"], expunge=True)
    short = net["id"].replace("-", "")[:8]
    assert f"vr-{short}" in _netns_list()
    await admin.run("deleteNetwork", id=net["id"])
    assert f"vr-{short}" not in _netns_list()
    assert try_sh(["ip", "link", "show", f"vrg{short}"], nz.host)[0] != 0
