"""Virtual router commands through the API on the simulator: list with health, reboot, stop, start."""

from __future__ import annotations

from virga.client import VirgaClient
from virga.core import VirgaApp

from tests.api.netutil import fails, ip, network, user, vm
from tests.factories import Cloud


async def test_router_lifecycle(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    alice = await user(app, "alice")
    net = await network(alice, app, cloud)
    assert await admin.list("listRouters", "router", listall=True) == []
    await vm(admin, app, cloud, net["id"], "web-1", account="alice")
    routers = await admin.list("listRouters", "router", networkid=net["id"])
    assert len(routers) == 1
    r = routers[0]
    assert r["state"] == "Running" and r["guestipaddress"] == "10.1.1.1" and r["guestnetworkid"] == net["id"]
    assert r["account"] == "alice" and r["zoneid"] == cloud.zone and r["healthchecksfailed"] is False
    assert {c["checkname"] for c in r["healthcheckresults"]} >= {"dhcp", "dns", "firewall"}
    assert all(c["success"] for c in r["healthcheckresults"])
    snat = (await alice.list("listPublicIpAddresses", "publicipaddress", issourcenat=True))[0]
    assert r["publicip"] == snat["ipaddress"]
    await fails(431, admin.call("startRouter", id=r["id"]), "Running")
    stopped = (await admin.run("stopRouter", id=r["id"]))["router"]
    assert stopped["state"] == "Stopped"
    pub = await ip(alice, net["id"])  # recorded while the router is stopped; applied on start
    assert pub["state"] == "Allocated"
    await fails(431, admin.call("rebootRouter", id=r["id"]), "Stopped")
    assert (await admin.run("startRouter", id=r["id"]))["router"]["state"] == "Running"
    assert (await admin.run("rebootRouter", id=r["id"]))["router"]["state"] == "Running"
    assert len(await admin.list("listRouters", "router", state="Running", zoneid=cloud.zone)) == 1
    live = await admin.list("listRouters", "router", fetchhealthcheckresults=True)
    assert live[0]["healthchecksfailed"] is False
    await alice.close()


async def test_routers_are_for_admins(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    alice = await user(app, "alice")
    net = await network(alice, app, cloud)
    await alice.run("restartNetwork", id=net["id"])
    r = (await admin.list("listRouters", "router"))[0]
    for cmd in ("listRouters", "stopRouter", "startRouter", "rebootRouter"):
        await fails(432, alice.call(cmd, id=r["id"]))
    await alice.close()
