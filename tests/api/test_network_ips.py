"""Public IPs and static NAT through the API on the simulator: limits, exhaustion, isolation."""

from __future__ import annotations

from sqlmodel import select
from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.models import PublicIpAddress

from tests.api.netutil import fails, ip, limit, network, user, vm
from tests.factories import Cloud


def _allocated(app: VirgaApp) -> int:
    """How many public IPs are not free."""
    with app.db.session() as s:
        return len(s.exec(select(PublicIpAddress).where(PublicIpAddress.state != "Free")).all())


async def test_associate_list_disassociate(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    alice = await user(app, "alice")
    net = await network(alice, app, cloud)
    first = await ip(alice, net["id"])  # implements the network: source NAT + this IP
    assert first["associatednetworkid"] == net["id"] and first["state"] == "Allocated"
    assert first["issourcenat"] is False and first["account"] == "alice" and first["forvirtualnetwork"] is True
    ips = await alice.list("listPublicIpAddresses", "publicipaddress", associatednetworkid=net["id"])
    assert len(ips) == 2 and sum(p["issourcenat"] for p in ips) == 1
    snat = next(p for p in ips if p["issourcenat"])
    await fails(431, alice.run("disassociateIpAddress", id=snat["id"]), "source nat")
    assert (await alice.run("disassociateIpAddress", id=first["id"]))["success"] is True
    assert [p["id"] for p in await alice.list("listPublicIpAddresses", "publicipaddress")] == [snat["id"]]
    free = await admin.list("listPublicIpAddresses", "publicipaddress", allocatedonly=False, pagesize=-1)
    assert len(free) == 20
    await alice.close()


async def test_limit_532_and_exhaustion_533(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    alice = await user(app, "alice")
    net = await network(alice, app, cloud)
    limit(app, "alice", 1, 2)
    await ip(alice, net["id"])
    before = _allocated(app)
    await fails(532, alice.call("associateIpAddress", networkid=net["id"]), "public_ip")
    assert _allocated(app) == before
    anet = await network(admin, app, cloud, "adminnet")
    for _ in range(20 - before - 1):
        await ip(admin, anet["id"])
    assert _allocated(app) == 20
    await fails(533, admin.call("associateIpAddress", networkid=anet["id"]), "no free public ip")
    assert _allocated(app) == 20
    await alice.close()


async def test_ip_isolation(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    alice, bob = await user(app, "alice"), await user(app, "bob")
    net = await network(alice, app, cloud)
    mine = await ip(alice, net["id"])
    assert await bob.list("listPublicIpAddresses", "publicipaddress", listall=True) == []
    await fails(431, bob.call("associateIpAddress", networkid=net["id"]))
    await fails(431, bob.call("disassociateIpAddress", id=mine["id"]))
    await fails(431, bob.call("listPublicIpAddresses", associatednetworkid=net["id"]))
    await fails(431, bob.call("disableStaticNat", ipaddressid=mine["id"]))
    await alice.close()
    await bob.close()


async def test_static_nat(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    alice = await user(app, "alice")
    net = await network(alice, app, cloud)
    guest = await vm(admin, app, cloud, net["id"], "web-1", account="alice")
    pub = await ip(alice, net["id"])
    snat = (await alice.list("listPublicIpAddresses", "publicipaddress", issourcenat=True))[0]
    await fails(431, alice.call("enableStaticNat", ipaddressid=snat["id"], virtualmachineid=guest["id"]), "source nat")
    await fails(
        431,
        alice.call("enableStaticNat", ipaddressid=pub["id"], virtualmachineid=guest["id"], vmguestip="10.1.1.250"),
        "vmguestip",
    )
    other = await network(admin, app, cloud, "othernet", gateway="10.7.0.1", netmask="255.255.255.0")
    stranger = await vm(admin, app, cloud, other["id"], "stranger")
    await fails(431, alice.call("enableStaticNat", ipaddressid=pub["id"], virtualmachineid=stranger["id"]))
    assert (await alice.call("enableStaticNat", ipaddressid=pub["id"], virtualmachineid=guest["id"]))["success"]
    listed = (await alice.list("listPublicIpAddresses", "publicipaddress", isstaticnat=True))[0]
    assert listed["virtualmachineid"] == guest["id"] and listed["vmipaddress"] == guest["nic"][0]["ipaddress"]
    await fails(
        537,
        alice.run(
            "createPortForwardingRule",
            ipaddressid=pub["id"],
            privateport=22,
            publicport=22,
            protocol="tcp",
            virtualmachineid=guest["id"],
        ),
        "static nat",
    )
    second = await ip(alice, net["id"])
    await fails(537, alice.call("enableStaticNat", ipaddressid=second["id"], virtualmachineid=guest["id"]))
    assert (await alice.run("disableStaticNat", ipaddressid=pub["id"]))["success"] is True
    assert await alice.list("listPublicIpAddresses", "publicipaddress", isstaticnat=True) == []
    await fails(431, alice.run("disableStaticNat", ipaddressid=pub["id"]), "not enabled")
    await alice.close()
