"""Jobs of guest networking commands cut by a server's death: their recover steps put the resources back."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.models import (
    AsyncJob,
    LoadBalancerMember,
    LoadBalancerRule,
    PortForwardingRule,
    PublicIpAddress,
    Router,
    VirtualMachine,
)
from virga.services.states import transition

from tests.api.netutil import ip, network, user, vm
from tests.factories import Cloud


async def _setup(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> tuple[VirgaClient, dict, dict, dict, int]:
    """alice with a network, a VM on it (and its internal id) and a public IP."""
    alice = await user(app, "alice")
    net = await network(alice, app, cloud)
    guest = await vm(admin, app, cloud, net["id"], "web-1", account="alice")
    with app.db.session() as s:
        vm_id = s.exec(select(VirtualMachine.id).where(VirtualMachine.uuid == guest["id"])).one() or 0
    return alice, net, guest, await ip(alice, net["id"]), vm_id


async def _cut(app: VirgaApp, command: str, uuid: str, params: dict[str, Any], change: Any = None) -> None:
    """Leave the database as a job of the command that died mid-way (after `change`), then recover."""
    with app.db.session() as s:
        if change is not None:
            change(s)
        s.add(AsyncJob(command=command, state="running", owner=app.jobs.owner, instance_uuid=uuid, params=params))
        s.commit()
    await app.jobs.recover()
    with app.db.session() as s:
        job = s.exec(select(AsyncJob).where(AsyncJob.command == command, AsyncJob.instance_uuid == uuid)).one()
        assert job.state == "failed", job


def _row(s: Any, model: Any, uuid: str) -> Any:
    """A row by uuid."""
    return s.exec(select(model).where(model.uuid == uuid)).one()


async def test_static_nat_and_port_forward_changes_are_put_back(
    app: VirgaApp, admin: VirgaClient, cloud: Cloud
) -> None:
    alice, net, guest, pub, vm_id = await _setup(app, admin, cloud)
    await alice.call("enableStaticNat", ipaddressid=pub["id"], virtualmachineid=guest["id"])
    vm_ip = (await alice.list("listPublicIpAddresses", "publicipaddress", id=pub["id"]))[0]["vmipaddress"]

    def cleared(s: Any) -> None:
        row = _row(s, PublicIpAddress, pub["id"])
        row.isstaticnat, row.vm_id, row.vm_ip = False, None, None
        s.add(row)

    await _cut(app, "disableStaticNat", pub["id"], {"vm_id": vm_id, "vm_ip": vm_ip}, cleared)
    now = (await alice.list("listPublicIpAddresses", "publicipaddress", id=pub["id"]))[0]
    assert now["isstaticnat"] is True and now["virtualmachineid"] == guest["id"]

    await alice.call("disableStaticNat", ipaddressid=pub["id"])
    other = await ip(alice, net["id"])
    pf = (
        await alice.run(
            "createPortForwardingRule",
            ipaddressid=other["id"],
            privateport=80,
            publicport=80,
            protocol="tcp",
            virtualmachineid=guest["id"],
        )
    )["portforwardingrule"]

    def moved(s: Any) -> None:
        row = _row(s, PortForwardingRule, pf["id"])
        row.privateport = row.privateendport = 8080
        s.add(row)

    old = {"privateport": 80, "privateendport": 80, "vm_id": vm_id, "vmguestip": pf["vmguestip"]}
    new = old | {"privateport": 8080, "privateendport": 8080}
    await _cut(app, "updatePortForwardingRule", pf["id"], new | {"old": old}, moved)
    now = (await alice.list("listPortForwardingRules", "portforwardingrule", id=pf["id"]))[0]
    assert (now["privateport"], now["privateendport"]) == ("80", "80")
    await alice.close()


async def test_load_balancer_changes_are_put_back(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    alice, net, guest, pub, vm_id = await _setup(app, admin, cloud)
    lb = (
        await alice.run(
            "createLoadBalancerRule",
            publicipid=pub["id"],
            name="web",
            algorithm="roundrobin",
            privateport=80,
            publicport=80,
        )
    )["loadbalancer"]
    with app.db.session() as s:
        rule_id = _row(s, LoadBalancerRule, lb["id"]).id
    vm_ip = guest["nic"][0]["ipaddress"]

    def added(s: Any) -> None:
        s.add(LoadBalancerMember(rule_id=rule_id, vm_id=vm_id, vmip=vm_ip))

    await _cut(app, "assignToLoadBalancerRule", lb["id"], {"add": [f"{vm_id}:{vm_ip}"]}, added)
    assert await alice.list("listLoadBalancerRuleInstances", "loadbalancerruleinstance", id=lb["id"]) == []

    assert (await alice.run("assignToLoadBalancerRule", id=lb["id"], virtualmachineids=guest["id"]))["success"]

    def dropped(s: Any) -> None:
        for m in s.exec(select(LoadBalancerMember).where(LoadBalancerMember.rule_id == rule_id)):
            m.removed = m.created
            s.add(m)

    await _cut(app, "removeFromLoadBalancerRule", lb["id"], {"remove": [vm_id]}, dropped)
    members = await alice.list("listLoadBalancerRuleInstances", "loadbalancerruleinstance", id=lb["id"])
    assert [m["id"] for m in members] == [guest["id"]]

    def switched(s: Any) -> None:
        row = _row(s, LoadBalancerRule, lb["id"])
        row.algorithm = "source"
        s.add(row)

    params = {"change": {"algorithm": "source"}, "old": {"algorithm": "roundrobin"}}
    await _cut(app, "updateLoadBalancerRule", lb["id"], params, switched)
    assert (await alice.list("listLoadBalancerRules", "loadbalancerrule", id=lb["id"]))[0]["algorithm"] == "roundrobin"
    await alice.close()


async def test_router_stop_cut_leaves_it_running(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    alice, net, guest, pub, vm_id = await _setup(app, admin, cloud)
    router = (await admin.list("listRouters", "router", networkid=net["id"]))[0]
    assert router["state"] == "Running"

    def stopping(s: Any) -> None:
        row = _row(s, Router, router["id"])
        transition(row, "stop")
        s.add(row)

    await _cut(app, "stopRouter", router["id"], {}, stopping)
    assert (await admin.list("listRouters", "router", id=router["id"]))[0]["state"] == "Running"
    await alice.close()
