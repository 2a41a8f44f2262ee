"""Guest networks through the API on the simulator: create, list, update, delete, restart, isolation."""

from __future__ import annotations

from sqlmodel import select
from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.models import Network, PublicIpAddress, Router

from tests.api.netutil import ISOLATED, fails, ip, limit, network, offering, user, vm
from tests.factories import Cloud


async def test_create_list_update(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    alice = await user(app, "alice")
    net = await network(alice, app, cloud, "web", networkdomain="web.example")
    assert net["cidr"] == "10.1.1.0/24" and net["gateway"] == "10.1.1.1" and net["netmask"] == "255.255.255.0"
    assert net["state"] == "Allocated" and net["type"] == "Isolated" and net["account"] == "alice"
    assert net["broadcasturi"].startswith("vxlan://") and net["networkofferingname"] == ISOLATED
    names = {s["name"] for s in net["service"]}
    assert {"SourceNat", "Firewall", "Lb", "Dhcp"} <= names
    assert net["service"][0]["provider"][0]["name"] == "VirtualRouter"
    other = await network(alice, app, cloud, "db", gateway="10.2.0.1", netmask="255.255.255.0")
    vni = [int(n["broadcasturi"].split("//")[1]) for n in (net, other)]
    assert vni[1] == vni[0] + 1
    listed = await alice.list("listNetworks", "network", type="Isolated", zoneid=cloud.zone)
    assert sorted(n["name"] for n in listed) == ["db", "web"]
    assert await alice.list("listNetworks", "network", isshared=True) == []
    done = await alice.run("updateNetwork", id=net["id"], name="web2", displaytext="Web 2", networkdomain="w.ex")
    assert done["network"]["name"] == "web2" and done["network"]["networkdomain"] == "w.ex"
    await alice.close()


async def test_bad_input_writes_nothing(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    alice = await user(app, "alice")
    await fails(431, network(alice, app, cloud, "x", gateway="10.9.0.1"), "netmask")
    await fails(431, network(alice, app, cloud, "x", gateway="10.9.0.300", netmask="255.255.255.0"), "gateway")
    await fails(431, network(alice, app, cloud, "x", gateway="10.9.0.0", netmask="255.255.255.0"), "gateway")
    await fails(431, network(alice, app, cloud, "x", networkdomain="bad domain"), "networkdomain")
    await fails(431, alice.call("createNetwork", name="x", zoneid=cloud.zone), "networkofferingid")
    await fails(
        431, alice.call("createNetwork", name="x", zoneid=cloud.zone, networkofferingid="nope"), "networkofferingid"
    )
    with app.db.session() as s:
        assert s.exec(select(Network)).all() == []
    await network(alice, app, cloud, "a")
    await fails(431, network(alice, app, cloud, "b", gateway="10.1.1.129", netmask="255.255.255.128"), "overlaps")
    bob = await user(app, "bob")
    await network(bob, app, cloud, "same-cidr")  # other accounts may reuse the CIDR
    await alice.close()
    await bob.close()


async def test_shared_network_admin_only(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    alice = await user(app, "alice")
    shared = offering(app, "DefaultSharedNetworkOfferingWithSGService")
    args = dict(
        name="flat",
        zoneid=cloud.zone,
        networkofferingid=shared,
        gateway="10.50.0.1",
        netmask="255.255.255.0",
        startip="10.50.0.10",
        endip="10.50.0.99",
        vlan="50",
    )
    await fails(531, alice.call("createNetwork", **args))
    await fails(431, admin.call("createNetwork", **{**args, "vlan": "5000"}), "vlan")
    await fails(431, admin.call("createNetwork", **{**args, "startip": "10.51.0.10"}), "startip")
    net = (await admin.call("createNetwork", **args))["network"]
    assert net["type"] == "Shared" and net["acltype"] == "Domain" and net["vlan"] == "50"
    assert net["startip"] == "10.50.0.10" and "SecurityGroup" in {s["name"] for s in net["service"]}
    assert [n["id"] for n in await alice.list("listNetworks", "network", isshared=True)] == [net["id"]]
    await fails(531, alice.call("deleteNetwork", id=net["id"]))
    await alice.close()


async def test_limit_and_isolation(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    alice, bob = await user(app, "alice"), await user(app, "bob")
    net = await network(alice, app, cloud, "mine")
    limit(app, "alice", 6, 1)
    await fails(532, network(alice, app, cloud, "two", gateway="10.3.0.1", netmask="255.255.255.0"), "network")
    assert await bob.list("listNetworks", "network") == []
    assert await bob.list("listNetworks", "network", listall=True) == []
    await fails(431, bob.call("listNetworks", id=net["id"], zoneid="00000000-0000-0000-0000-000000000000"))
    for cmd, extra in (("updateNetwork", {"name": "x"}), ("deleteNetwork", {}), ("restartNetwork", {})):
        await fails(431, bob.call(cmd, id=net["id"], **extra))
    assert [n["id"] for n in await admin.list("listNetworks", "network", listall=True)] == [net["id"]]
    await alice.close()
    await bob.close()


async def test_delete_refused_while_in_use(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    alice = await user(app, "alice")
    net = await network(alice, app, cloud)
    guest = await vm(admin, app, cloud, net["id"], "web-1", account="alice")
    extra = await ip(alice, net["id"])
    await fails(536, alice.run("deleteNetwork", id=net["id"]), "in use")
    await admin.run("destroyVirtualMachine", id=guest["id"], expunge=True)
    assert (await alice.run("deleteNetwork", id=net["id"]))["success"] is True
    assert await alice.list("listNetworks", "network") == []
    with app.db.session() as s:
        freed = s.exec(select(PublicIpAddress).where(PublicIpAddress.ipaddress == extra["ipaddress"])).one()
        assert freed.state == "Free" and freed.network_id is None
        assert s.exec(select(PublicIpAddress).where(PublicIpAddress.state != "Free")).all() == []
        assert s.exec(select(Router).where(Router.removed == None)).all() == []
    await alice.close()


async def test_restart_implements_and_rebuilds(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    alice = await user(app, "alice")
    net = await network(alice, app, cloud)
    res = await alice.run("restartNetwork", id=net["id"], cleanup=True)
    assert res["network"]["state"] == "Implemented"
    routers = await admin.list("listRouters", "router", networkid=net["id"], listall=True)
    assert len(routers) == 1 and routers[0]["state"] == "Running" and routers[0]["publicip"]
    res = await alice.run("restartNetwork", id=net["id"])
    assert res["network"]["state"] == "Implemented"
    assert len(await admin.list("listRouters", "router", listall=True)) == 1
    snat = await alice.list("listPublicIpAddresses", "publicipaddress", issourcenat=True)
    assert [p["ipaddress"] for p in snat] == [routers[0]["publicip"]]
    await alice.close()
