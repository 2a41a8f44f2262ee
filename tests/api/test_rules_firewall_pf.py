"""Firewall, egress and port forwarding rules through the API on the simulator."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select
from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.drivers.simulator.router import SimulatedRouters
from virga.errors import InternalError
from virga.models import FirewallRule, PortForwardingRule

from tests.api.netutil import fails, ip, network, user, vm
from tests.factories import Cloud


async def _setup(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> tuple[VirgaClient, dict, dict, dict]:
    """alice with a network, a VM on it and a public IP."""
    alice = await user(app, "alice")
    net = await network(alice, app, cloud)
    guest = await vm(admin, app, cloud, net["id"], "web-1", account="alice")
    return alice, net, guest, await ip(alice, net["id"])


def _live(app: VirgaApp, model: Any) -> int:
    """Rule rows not removed."""
    with app.db.session() as s:
        return len(s.exec(select(model).where(model.removed == None)).all())


async def test_firewall_rules(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    alice, net, _, pub = await _setup(app, admin, cloud)
    rule = (
        await alice.run(
            "createFirewallRule",
            ipaddressid=pub["id"],
            protocol="TCP",
            startport=80,
            endport=90,
            cidrlist="192.0.2.0/24,198.51.100.7",
        )
    )["firewallrule"]
    assert rule["state"] == "Active" and rule["cidrlist"] == "192.0.2.0/24,198.51.100.7/32"
    assert rule["startport"] == 80 and rule["endport"] == 90 and rule["ipaddress"] == pub["ipaddress"]
    icmp = (await alice.run("createFirewallRule", ipaddressid=pub["id"], protocol="icmp", icmptype=8, icmpcode=-1))[
        "firewallrule"
    ]
    assert icmp["icmptype"] == 8
    listed = await alice.list("listFirewallRules", "firewallrule", ipaddressid=pub["id"])
    assert {r["id"] for r in listed} == {rule["id"], icmp["id"]}
    for bad, param in (
        ({"protocol": "gre"}, "protocol"),
        ({"protocol": "tcp"}, "startport"),
        ({"protocol": "tcp", "startport": 0}, "startport"),
        ({"protocol": "tcp", "startport": 90, "endport": 80}, "endport"),
        ({"protocol": "udp", "startport": 53, "cidrlist": "10.0.0.0/33"}, "cidrlist"),
        ({"protocol": "icmp", "startport": 1}, "startport"),
        ({"protocol": "tcp", "startport": 1, "icmptype": 8}, "icmptype"),
    ):
        await fails(431, alice.call("createFirewallRule", ipaddressid=pub["id"], **bad), param)
    assert _live(app, FirewallRule) == 2
    assert (await alice.run("deleteFirewallRule", id=rule["id"]))["success"] is True
    assert [r["id"] for r in await alice.list("listFirewallRules", "firewallrule")] == [icmp["id"]]
    await fails(431, alice.call("deleteEgressFirewallRule", id=icmp["id"]), "ingress")
    await alice.close()


async def test_egress_rules(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    alice, net, _, _ = await _setup(app, admin, cloud)
    rule = (
        await alice.run(
            "createEgressFirewallRule", networkid=net["id"], protocol="udp", startport=53, destcidrlist="192.0.2.53/32"
        )
    )["firewallrule"]
    assert rule["traffictype"] == "Egress" and rule["cidrlist"] == "10.1.1.0/24" and rule["endport"] == 53
    assert [r["id"] for r in await alice.list("listEgressFirewallRules", "firewallrule", networkid=net["id"])] == [
        rule["id"]
    ]
    assert await alice.list("listFirewallRules", "firewallrule") == []
    await fails(
        431,
        alice.call("createEgressFirewallRule", networkid=net["id"], protocol="all", destcidrlist="300.1.1.1/32"),
        "destcidrlist",
    )
    assert (await alice.run("deleteEgressFirewallRule", id=rule["id"]))["success"] is True
    assert await alice.list("listEgressFirewallRules", "firewallrule") == []
    await alice.close()


async def test_port_forwarding(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    alice, net, guest, pub = await _setup(app, admin, cloud)
    pf = (
        await alice.run(
            "createPortForwardingRule",
            ipaddressid=pub["id"],
            privateport=8000,
            privateendport=8009,
            publicport=9000,
            publicendport=9009,
            protocol="tcp",
            virtualmachineid=guest["id"],
        )
    )["portforwardingrule"]
    assert pf["state"] == "Active" and pf["vmguestip"] == guest["nic"][0]["ipaddress"]
    assert (pf["publicport"], pf["publicendport"], pf["privateport"]) == ("9000", "9009", "8000")
    await fails(
        537,
        alice.call(
            "createPortForwardingRule",
            ipaddressid=pub["id"],
            privateport=22,
            publicport=9005,
            protocol="tcp",
            virtualmachineid=guest["id"],
        ),
        "conflicts",
    )
    await fails(
        537,
        alice.call(
            "createLoadBalancerRule",
            publicipid=pub["id"],
            name="lb",
            algorithm="source",
            privateport=80,
            publicport=9001,
        ),
    )
    udp = await alice.run(
        "createPortForwardingRule",
        ipaddressid=pub["id"],
        privateport=9005,
        publicport=9005,
        protocol="udp",
        virtualmachineid=guest["id"],
    )  # other protocol: no conflict
    await fails(
        431,
        alice.call(
            "createPortForwardingRule",
            ipaddressid=pub["id"],
            privateport=22,
            privateendport=24,
            publicport=22,
            protocol="tcp",
            virtualmachineid=guest["id"],
        ),
        "same number",
    )
    await fails(
        431,
        alice.call(
            "createPortForwardingRule",
            ipaddressid=pub["id"],
            privateport=22,
            publicport=70000,
            protocol="tcp",
            virtualmachineid=guest["id"],
        ),
        "publicport",
    )
    await fails(
        431,
        alice.call(
            "createPortForwardingRule",
            ipaddressid=pub["id"],
            privateport=22,
            publicport=22,
            protocol="icmp",
            virtualmachineid=guest["id"],
        ),
        "protocol",
    )
    other = await network(admin, app, cloud, "othernet", gateway="10.7.0.1", netmask="255.255.255.0")
    stranger = await vm(admin, app, cloud, other["id"], "stranger", account="alice")
    await fails(
        431,
        alice.call(
            "createPortForwardingRule",
            ipaddressid=pub["id"],
            privateport=22,
            publicport=22,
            protocol="tcp",
            virtualmachineid=stranger["id"],
        ),
        "no nic",
    )
    assert _live(app, PortForwardingRule) == 2
    upd = (await alice.run("updatePortForwardingRule", id=pf["id"], privateport=7000))["portforwardingrule"]
    assert (upd["privateport"], upd["privateendport"]) == ("7000", "7009")
    listed = await alice.list("listPortForwardingRules", "portforwardingrule", ipaddressid=pub["id"])
    assert {r["id"] for r in listed} == {pf["id"], udp["portforwardingrule"]["id"]}
    assert (await alice.run("deletePortForwardingRule", id=pf["id"]))["success"] is True
    assert len(await alice.list("listPortForwardingRules", "portforwardingrule")) == 1
    await alice.close()


async def test_rules_isolation(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    alice, net, guest, pub = await _setup(app, admin, cloud)
    fw = (await alice.run("createFirewallRule", ipaddressid=pub["id"], protocol="all"))["firewallrule"]
    pf = (
        await alice.run(
            "createPortForwardingRule",
            ipaddressid=pub["id"],
            privateport=22,
            publicport=22,
            protocol="tcp",
            virtualmachineid=guest["id"],
        )
    )["portforwardingrule"]
    bob = await user(app, "bob")
    bnet = await network(bob, app, cloud, "bobnet")
    bvm = await vm(admin, app, cloud, bnet["id"], "bob-1", account="bob")
    await fails(431, bob.call("createFirewallRule", ipaddressid=pub["id"], protocol="all"))
    await fails(
        431,
        bob.call(
            "createPortForwardingRule",
            ipaddressid=pub["id"],
            privateport=22,
            publicport=2222,
            protocol="tcp",
            virtualmachineid=bvm["id"],
        ),
    )
    await fails(431, bob.call("createEgressFirewallRule", networkid=net["id"], protocol="all"))
    for cmd, rid in (
        ("deleteFirewallRule", fw["id"]),
        ("deletePortForwardingRule", pf["id"]),
        ("updatePortForwardingRule", pf["id"]),
    ):
        await fails(431, bob.call(cmd, id=rid))
    for cmd, item in (
        ("listFirewallRules", "firewallrule"),
        ("listPortForwardingRules", "portforwardingrule"),
        ("listEgressFirewallRules", "firewallrule"),
    ):
        assert await bob.list(cmd, item, listall=True) == []
    bip = await ip(bob, bnet["id"])
    await fails(
        431,
        alice.call(
            "createPortForwardingRule",
            ipaddressid=bip["id"],
            privateport=22,
            publicport=22,
            protocol="tcp",
            virtualmachineid=guest["id"],
        ),
    )
    await alice.close()
    await bob.close()


async def test_failed_apply_undoes_the_rule(
    app: VirgaApp, admin: VirgaClient, cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, net, guest, pub = await _setup(app, admin, cloud)
    keep = await alice.run("createFirewallRule", ipaddressid=pub["id"], protocol="tcp", startport=22)
    calls = {"n": 0}

    async def broken(self: Any, app: Any, network_id: int) -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise InternalError("simulated router failure")
        return {"dhcp": "simulated"}

    monkeypatch.setattr(SimulatedRouters, "sync", broken)
    await fails(
        530,
        alice.run(
            "createPortForwardingRule",
            ipaddressid=pub["id"],
            privateport=80,
            publicport=80,
            protocol="tcp",
            virtualmachineid=guest["id"],
        ),
        "simulated router failure",
    )
    assert _live(app, PortForwardingRule) == 0 and calls["n"] == 2  # undone, then the old state re-applied
    calls["n"] = 0
    await fails(530, alice.run("deleteFirewallRule", id=keep["firewallrule"]["id"]))
    assert [r["state"] for r in await alice.list("listFirewallRules", "firewallrule")] == ["Active"]
    await alice.close()


async def test_jobs_cut_by_a_restart_are_reconciled(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    from virga.models import AsyncJob, PublicIpAddress

    alice, net, guest, pub = await _setup(app, admin, cloud)
    keep = (await alice.run("createFirewallRule", ipaddressid=pub["id"], protocol="all"))["firewallrule"]
    with app.db.session() as s:
        fw = s.exec(select(FirewallRule).where(FirewallRule.uuid == keep["id"])).one()
        half = FirewallRule(
            ipaddress_id=fw.ipaddress_id,
            network_id=fw.network_id,
            protocol="udp",
            startport=53,
            endport=53,
            state="Add",
            account_id=fw.account_id,
            domain_id=fw.domain_id,
        )
        fw.state = "Revoke"
        ipr = s.exec(select(PublicIpAddress).where(PublicIpAddress.uuid == pub["id"])).one()
        ipr.state = "Releasing"
        s.add_all([fw, half, ipr])
        s.flush()
        for command, uuid in (
            ("createFirewallRule", half.uuid),
            ("deleteFirewallRule", fw.uuid),
            ("disassociateIpAddress", ipr.uuid),
        ):
            s.add(AsyncJob(command=command, state="running", owner=app.jobs.owner, instance_uuid=uuid))
        s.commit()
    await app.jobs.recover()
    assert [r["id"] for r in await alice.list("listFirewallRules", "firewallrule")] == [keep["id"]]
    assert (await alice.list("listFirewallRules", "firewallrule"))[0]["state"] == "Active"
    assert (await alice.list("listPublicIpAddresses", "publicipaddress", id=pub["id"]))[0]["state"] == "Allocated"
    await alice.close()
