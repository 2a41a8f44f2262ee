"""Load balancer rules, members and health check policies through the API on the simulator."""

from __future__ import annotations

from virga.client import VirgaClient
from virga.core import VirgaApp

from tests.api.netutil import fails, ip, network, user, vm
from tests.factories import Cloud


async def test_lb_lifecycle(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    alice = await user(app, "alice")
    net = await network(alice, app, cloud)
    web1 = await vm(admin, app, cloud, net["id"], "web-1", account="alice")
    web2 = await vm(admin, app, cloud, net["id"], "web-2", account="alice")
    pub = await ip(alice, net["id"])
    lb = (
        await alice.run(
            "createLoadBalancerRule",
            publicipid=pub["id"],
            name="web lb",
            algorithm="roundrobin",
            privateport=8000,
            publicport=80,
        )
    )["loadbalancer"]
    assert lb["state"] == "Active" and lb["publicip"] == pub["ipaddress"] and lb["algorithm"] == "roundrobin"
    assert lb["networkid"] == net["id"] and lb["zoneid"] == cloud.zone
    await fails(
        537,
        alice.call(
            "createLoadBalancerRule",
            publicipid=pub["id"],
            name="dup",
            algorithm="source",
            privateport=81,
            publicport=80,
        ),
        "conflicts",
    )
    await fails(
        537,
        alice.call(
            "createPortForwardingRule",
            ipaddressid=pub["id"],
            privateport=80,
            publicport=70,
            publicendport=80,
            privateendport=90,
            protocol="tcp",
            virtualmachineid=web1["id"],
        ),
    )
    await fails(
        431,
        alice.call(
            "createLoadBalancerRule", publicipid=pub["id"], name="x", algorithm="random", privateport=81, publicport=81
        ),
        "algorithm",
    )
    await fails(
        431,
        alice.call(
            "createLoadBalancerRule",
            publicipid=pub["id"],
            name="x",
            algorithm="source",
            privateport=81,
            publicport=81,
            protocol="udp",
        ),
        "protocol",
    )
    ids = f"{web1['id']},{web2['id']}"
    assert (await alice.run("assignToLoadBalancerRule", id=lb["id"], virtualmachineids=ids))["success"]
    await fails(431, alice.call("assignToLoadBalancerRule", id=lb["id"], virtualmachineids=web1["id"]), "already")
    body = await alice.call("listLoadBalancerRuleInstances", id=lb["id"], lbvmips=True)
    assert {v["id"] for v in body["loadbalancerruleinstance"]} == {web1["id"], web2["id"]}
    assert sorted(body["lbvmipaddresses"]) == sorted(v["nic"][0]["ipaddress"] for v in (web1, web2))
    listed = await alice.list("listLoadBalancerRules", "loadbalancerrule", virtualmachineid=web2["id"])
    assert [r["id"] for r in listed] == [lb["id"]]
    assert (await alice.run("removeFromLoadBalancerRule", id=lb["id"], virtualmachineids=web2["id"]))["success"]
    await fails(431, alice.call("removeFromLoadBalancerRule", id=lb["id"], virtualmachineids=web2["id"]), "not")
    body = await alice.call("listLoadBalancerRuleInstances", id=lb["id"])
    assert [v["id"] for v in body["loadbalancerruleinstance"]] == [web1["id"]]
    upd = await alice.run("updateLoadBalancerRule", id=lb["id"], algorithm="leastconn", name="web")
    assert upd["loadbalancer"]["algorithm"] == "leastconn" and upd["loadbalancer"]["name"] == "web"
    assert (await alice.run("deleteLoadBalancerRule", id=lb["id"]))["success"] is True
    assert await alice.list("listLoadBalancerRules", "loadbalancerrule") == []
    await alice.close()


async def test_health_check_policies(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    alice = await user(app, "alice")
    net = await network(alice, app, cloud)
    pub = await ip(alice, net["id"])
    lb = (
        await alice.run(
            "createLoadBalancerRule",
            publicipid=pub["id"],
            name="web",
            algorithm="source",
            privateport=8000,
            publicport=80,
        )
    )["loadbalancer"]
    await fails(431, alice.call("createLBHealthCheckPolicy", lbruleid=lb["id"], pingpath="nope"), "pingpath")
    await fails(431, alice.call("createLBHealthCheckPolicy", lbruleid=lb["id"], intervaltime=0), "intervaltime")
    res = (
        await alice.run(
            "createLBHealthCheckPolicy",
            lbruleid=lb["id"],
            pingpath="/health",
            intervaltime=2,
            healthythreshold=1,
            unhealthythreshold=2,
        )
    )["healthcheckpolicies"]
    policy = res["healthcheckpolicy"][0]
    assert res["lbruleid"] == lb["id"] and policy["pingpath"] == "/health" and policy["healthcheckinterval"] == 2
    await fails(431, alice.call("createLBHealthCheckPolicy", lbruleid=lb["id"]), "already")
    listed = await alice.list("listLBHealthCheckPolicies", "healthcheckpolicies", lbruleid=lb["id"])
    assert listed[0]["healthcheckpolicy"][0]["id"] == policy["id"]
    bob = await user(app, "bob")
    await fails(431, bob.call("deleteLBHealthCheckPolicy", id=policy["id"]))
    await fails(431, bob.call("listLBHealthCheckPolicies", lbruleid=lb["id"]))
    assert (await alice.run("deleteLBHealthCheckPolicy", id=policy["id"]))["success"] is True
    listed = await alice.list("listLBHealthCheckPolicies", "healthcheckpolicies", lbruleid=lb["id"])
    assert listed[0]["healthcheckpolicy"] == []
    await alice.close()
    await bob.close()


async def test_lb_isolation(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    alice, bob = await user(app, "alice"), await user(app, "bob")
    net = await network(alice, app, cloud)
    web = await vm(admin, app, cloud, net["id"], "web-1", account="alice")
    pub = await ip(alice, net["id"])
    lb = (
        await alice.run(
            "createLoadBalancerRule",
            publicipid=pub["id"],
            name="web",
            algorithm="source",
            privateport=8000,
            publicport=80,
        )
    )["loadbalancer"]
    bnet = await network(bob, app, cloud, "bobnet")
    bvm = await vm(admin, app, cloud, bnet["id"], "bob-1", account="bob")
    await fails(
        431,
        bob.call(
            "createLoadBalancerRule",
            publicipid=pub["id"],
            name="steal",
            algorithm="source",
            privateport=1,
            publicport=1,
        ),
    )
    for cmd, extra in (
        ("assignToLoadBalancerRule", {"virtualmachineids": bvm["id"]}),
        ("removeFromLoadBalancerRule", {"virtualmachineids": web["id"]}),
        ("updateLoadBalancerRule", {"name": "x"}),
        ("deleteLoadBalancerRule", {}),
        ("listLoadBalancerRuleInstances", {}),
    ):
        await fails(431, bob.call(cmd, id=lb["id"], **extra))
    await fails(431, alice.call("assignToLoadBalancerRule", id=lb["id"], virtualmachineids=bvm["id"]))
    assert await bob.list("listLoadBalancerRules", "loadbalancerrule", listall=True) == []
    await alice.close()
    await bob.close()
