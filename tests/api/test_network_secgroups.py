"""Security groups through the API on the simulator: default group, rules, membership, isolation."""

from __future__ import annotations

from sqlmodel import select
from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.models import Network, SecurityGroup
from virga.services.routercfg import security_group_config

from tests.api.netutil import fails, offering, user, vm
from tests.factories import Cloud


async def test_groups_and_rules(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    alice = await user(app, "alice")
    groups = await alice.list("listSecurityGroups", "securitygroup")
    assert [g["name"] for g in groups] == ["default"]  # created on first use
    web = (await alice.call("createSecurityGroup", name="web", description="web servers"))["securitygroup"]
    await fails(431, alice.call("createSecurityGroup", name="web"), "already exists")
    res = await alice.run(
        "authorizeSecurityGroupIngress",
        securitygroupid=web["id"],
        protocol="tcp",
        startport=80,
        endport=80,
        cidrlist="0.0.0.0/0,192.0.2.0/24",
    )
    assert len(res["securitygroup"]["ingressrule"]) == 2
    res = await alice.run(
        "authorizeSecurityGroupIngress",
        securitygroupname="web",
        protocol="icmp",
        icmptype=-1,
        icmpcode=-1,
        **{"usersecuritygrouplist[0].account": "alice", "usersecuritygrouplist[0].group": "default"},
    )
    peer = res["securitygroup"]["ingressrule"][-1]
    assert peer["securitygroupname"] == "default" and peer["account"] == "alice"
    res = await alice.run(
        "authorizeSecurityGroupEgress",
        securitygroupid=web["id"],
        protocol="udp",
        startport=53,
        cidrlist="192.0.2.53/32",
    )
    egress = res["securitygroup"]["egressrule"][0]
    await fails(
        431,
        alice.call(
            "authorizeSecurityGroupIngress",
            securitygroupid=web["id"],
            protocol="tcp",
            startport=22,
            cidrlist="1.2.3.4/40",
        ),
        "cidrlist",
    )
    await fails(
        431,
        alice.call("authorizeSecurityGroupIngress", securitygroupid=web["id"], protocol="tcp", startport=22),
        "cidrlist",
    )
    await fails(431, alice.call("revokeSecurityGroupIngress", id=egress["ruleid"]), "egress")
    assert (await alice.run("revokeSecurityGroupEgress", id=egress["ruleid"]))["success"] is True
    listed = await alice.list("listSecurityGroups", "securitygroup", securitygroupname="web")
    assert len(listed[0]["ingressrule"]) == 3 and listed[0].get("egressrule", []) == []
    bob = await user(app, "bob")
    assert [g["name"] for g in await bob.list("listSecurityGroups", "securitygroup")] == ["default"]
    await fails(431, bob.call("deleteSecurityGroup", id=web["id"]))
    await fails(
        431, bob.call("authorizeSecurityGroupIngress", securitygroupid=web["id"], protocol="all", cidrlist="0.0.0.0/0")
    )
    await fails(431, bob.call("revokeSecurityGroupIngress", id=peer["ruleid"]))
    await fails(431, alice.call("deleteSecurityGroup", name="default"), "default")
    assert (await alice.call("deleteSecurityGroup", id=web["id"]))["success"] is True
    await alice.close()
    await bob.close()


async def test_membership_feeds_the_bridge_filter(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    alice = await user(app, "alice")
    net = (
        await admin.call(
            "createNetwork",
            name="flat",
            zoneid=cloud.zone,
            gateway="10.60.0.1",
            netmask="255.255.255.0",
            startip="10.60.0.10",
            endip="10.60.0.50",
            vlan="60",
            networkofferingid=offering(app, "DefaultSharedNetworkOfferingWithSGService"),
        )
    )["network"]
    web = (await alice.call("createSecurityGroup", name="web"))["securitygroup"]
    await alice.run(
        "authorizeSecurityGroupIngress", securitygroupid=web["id"], protocol="tcp", startport=80, cidrlist="0.0.0.0/0"
    )
    await fails(
        431, vm(admin, app, cloud, net["id"], "web-0", account="alice", securitygroupids=cloud.zone), "securitygroupids"
    )
    guest = await vm(admin, app, cloud, net["id"], "web-1", account="alice", securitygroupids=web["id"])
    with app.db.session() as s:  # deployVirtualMachine put the VM in the group it was given
        network = s.exec(select(Network).where(Network.uuid == net["id"])).one()
        cfg = security_group_config(s, network)
    assert len(cfg.nics) == 1 and cfg.nics[0].ip == guest["nic"][0]["ipaddress"]
    assert cfg.nics[0].ingress[0].protocol == "tcp" and cfg.nics[0].ingress[0].ports.start == 80
    listed = await alice.list("listSecurityGroups", "securitygroup", virtualmachineid=guest["id"])
    assert [g["name"] for g in listed] == ["web"] and listed[0]["virtualmachinecount"] == 1
    await fails(536, alice.call("deleteSecurityGroup", id=web["id"]), "in use")
    plain = await vm(admin, app, cloud, net["id"], "plain-1", account="alice")  # no groups: the account's default
    listed = await alice.list("listSecurityGroups", "securitygroup", virtualmachineid=plain["id"])
    assert [g["name"] for g in listed] == ["default"] and listed[0]["virtualmachineids"] == [plain["id"]]
    with app.db.session() as s:
        network = s.exec(select(Network).where(Network.uuid == net["id"])).one()
        assert {n.ip for n in security_group_config(s, network).nics} == {
            guest["nic"][0]["ipaddress"],
            plain["nic"][0]["ipaddress"],
        }
        assert s.exec(select(SecurityGroup).where(SecurityGroup.name == "default")).first() is not None
    await alice.close()
