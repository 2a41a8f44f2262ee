"""Physical networks, traffic types, service providers, VirtualRouter elements and public IP ranges."""

from __future__ import annotations

import pytest
from sqlmodel import select
from virga.client import ApiError, VirgaClient
from virga.core import VirgaApp
from virga.models import PhysicalNetwork, PublicIpAddress, VlanIpRange

from tests.factories import Cloud


async def _err(coro: object) -> ApiError:
    """Await a call expected to fail and return its error."""
    with pytest.raises(ApiError) as err:
        await coro  # type: ignore[misc]
    return err.value


async def test_zone_wizard_sequence(admin: VirgaClient, cloud: Cloud) -> None:
    pn = (
        await admin.run(
            "createPhysicalNetwork", zoneid=cloud.zone, name="pn-2", isolationmethods="VLAN", vlan="100-199"
        )
    )["physicalnetwork"]
    assert pn["state"] == "Disabled" and pn["vlan"] == "100-199" and pn["zoneid"] == cloud.zone
    for kind, label in (("Guest", "cloudbr1"), ("Public", "cloudbr0"), ("Management", "cloudbr0")):
        tt = (await admin.run("addTrafficType", physicalnetworkid=pn["id"], traffictype=kind, kvmnetworklabel=label))[
            "traffictype"
        ]
        assert tt["traffictype"] == kind and tt["kvmnetworklabel"] == label
    err = await _err(admin.run("addTrafficType", physicalnetworkid=pn["id"], traffictype="guest"))
    assert err.code == 431 and "traffictype" in err.text
    types = await admin.list("listTrafficTypes", "traffictype", physicalnetworkid=pn["id"])
    assert sorted(t["traffictype"] for t in types) == ["Guest", "Management", "Public"]
    guest = next(t for t in types if t["traffictype"] == "Guest")
    tt = (await admin.run("updateTrafficType", id=guest["id"], kvmnetworklabel="br-guest"))["traffictype"]
    assert tt["kvmnetworklabel"] == "br-guest"
    nsps = await admin.list("listNetworkServiceProviders", "networkserviceprovider", physicalnetworkid=pn["id"])
    assert {n["name"] for n in nsps} == {"VirtualRouter", "SecurityGroupProvider"}
    vr = next(n for n in nsps if n["name"] == "VirtualRouter")
    assert "SourceNat" in vr["servicelist"] and vr["state"] == "Disabled"
    err = await _err(admin.run("updateNetworkServiceProvider", id=vr["id"], state="Enabled"))
    assert err.code == 431 and "configureVirtualRouterElement" in err.text
    (element,) = await admin.list("listVirtualRouterElements", "virtualrouterelement", nspid=vr["id"])
    assert element["enabled"] is False
    element = await admin.run("configureVirtualRouterElement", id=element["id"], enabled=True)
    assert element["virtualrouterelement"]["enabled"] is True
    vr = (await admin.run("updateNetworkServiceProvider", id=vr["id"], state="Enabled"))["networkserviceprovider"]
    assert vr["state"] == "Enabled"
    pn = (await admin.run("updatePhysicalNetwork", id=pn["id"], state="Enabled", vlan="200-299"))["physicalnetwork"]
    assert pn["state"] == "Enabled" and pn["vlan"] == "200-299"
    extra = (
        await admin.run(
            "addNetworkServiceProvider", name="ConfigDrive", physicalnetworkid=pn["id"], servicelist="UserData"
        )
    )["networkserviceprovider"]
    assert extra["servicelist"] == ["UserData"]
    err = await _err(admin.run("addNetworkServiceProvider", name="VirtualRouter", physicalnetworkid=pn["id"]))
    assert err.code == 431
    assert (await admin.run("deleteNetworkServiceProvider", id=extra["id"]))["success"] is True
    assert (await admin.run("deleteTrafficType", id=guest["id"]))["success"] is True
    assert (await admin.run("deletePhysicalNetwork", id=pn["id"]))["success"] is True
    assert await admin.list("listPhysicalNetworks", "physicalnetwork", id=pn["id"]) == []


@pytest.mark.parametrize(
    ("params", "word"),
    [
        ({"vlan": "300-200"}, "vlan"),
        ({"vlan": "5000"}, "vlan"),
        ({"vlan": "abc"}, "vlan"),
        ({"isolationmethods": "FOO"}, "isolationmethods"),
        ({"broadcastdomainrange": "REGION"}, "broadcastdomainrange"),
        ({"name": "physnet-1"}, "name"),
    ],
)
async def test_physnet_bad_input(app: VirgaApp, admin: VirgaClient, cloud: Cloud, params: dict, word: str) -> None:
    err = await _err(admin.call("createPhysicalNetwork", **{"zoneid": cloud.zone, "name": "pn-bad", **params}))
    assert err.code == 431 and word in err.text
    with app.db.session() as s:
        assert s.exec(select(PhysicalNetwork).where(PhysicalNetwork.name == "pn-bad")).first() is None


async def test_physnet_in_use_is_not_deleted(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    (pn,) = await admin.list("listPhysicalNetworks", "physicalnetwork", zoneid=cloud.zone)
    err = await _err(admin.run("deletePhysicalNetwork", id=pn["id"]))
    assert err.code == 536 and "IP range" in err.text


async def test_public_ip_ranges(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    (pn,) = await admin.list("listPhysicalNetworks", "physicalnetwork", zoneid=cloud.zone)
    r = (
        await admin.call(
            "createVlanIpRange",
            zoneid=cloud.zone,
            physicalnetworkid=pn["id"],
            vlan="vlan://42",
            gateway="203.0.113.1",
            netmask="255.255.255.0",
            startip="203.0.113.10",
            endip="203.0.113.19",
            forvirtualnetwork=True,
        )
    )["vlan"]
    assert r["vlan"] == "vlan://42" and r["startip"] == "203.0.113.10" and r["forvirtualnetwork"] is True
    assert r["physicalnetworkid"] == pn["id"] and r["zoneid"] == cloud.zone
    with app.db.session() as s:
        vlan = s.exec(select(VlanIpRange).where(VlanIpRange.uuid == r["id"])).one()
        ips = s.exec(select(PublicIpAddress).where(PublicIpAddress.vlan_id == vlan.id)).all()
        assert sorted(i.ipaddress for i in ips)[0] == "203.0.113.10" and len(ips) == 10
        assert all(i.state == "Free" for i in ips)
    untagged = (
        await admin.call(
            "createVlanIpRange",
            zoneid=cloud.zone,
            vlan="untagged",
            gateway="192.0.2.1",
            netmask="255.255.255.0",
            startip="192.0.2.50",
        )
    )["vlan"]
    assert untagged["endip"] == "192.0.2.50" and untagged["vlan"] == "untagged"
    ranges = await admin.list("listVlanIpRanges", "vlan", zoneid=cloud.zone)
    assert len(ranges) == 3
    assert [x["id"] for x in await admin.list("listVlanIpRanges", "vlan", vlan="42")] == [r["id"]]
    with app.db.session() as s:
        ip = s.exec(select(PublicIpAddress).where(PublicIpAddress.ipaddress == "203.0.113.15")).one()
        ip.state = "Allocated"
        s.add(ip)
        s.commit()
    err = await _err(admin.call("deleteVlanIpRange", id=r["id"]))
    assert err.code == 536 and "in use" in err.text
    with app.db.session() as s:
        ip = s.exec(select(PublicIpAddress).where(PublicIpAddress.ipaddress == "203.0.113.15")).one()
        ip.state = "Free"
        s.add(ip)
        s.commit()
    assert (await admin.call("deleteVlanIpRange", id=r["id"]))["success"] is True
    with app.db.session() as s:
        assert s.exec(select(PublicIpAddress).where(PublicIpAddress.ipaddress == "203.0.113.15")).first() is None
    assert len(await admin.list("listVlanIpRanges", "vlan", zoneid=cloud.zone)) == 2


@pytest.mark.parametrize(
    ("params", "word"),
    [
        ({"startip": "198.51.100.25", "endip": "198.51.100.40", "gateway": "198.51.100.1"}, "overlaps"),
        ({"startip": "203.0.113.20", "endip": "203.0.113.10"}, "endip"),
        ({"startip": "203.0.114.10", "endip": "203.0.114.20"}, "startip"),
        ({"gateway": "203.0.113.15"}, "gateway"),
        ({"netmask": "255.0.255.0"}, "netmask"),
        ({"startip": "203.0.113.999"}, "startip"),
        ({"vlan": "vlan://5000"}, "vlan"),
        ({"gateway": None}, "gateway"),
    ],
)
async def test_ip_range_bad_input(app: VirgaApp, admin: VirgaClient, cloud: Cloud, params: dict, word: str) -> None:
    base = {
        "zoneid": cloud.zone,
        "gateway": "203.0.113.1",
        "netmask": "255.255.255.0",
        "startip": "203.0.113.10",
        "endip": "203.0.113.20",
    }
    with app.db.session() as s:
        before = len(s.exec(select(PublicIpAddress)).all())
    err = await _err(admin.call("createVlanIpRange", **{**base, **params}))
    assert err.code == 431 and word in err.text
    with app.db.session() as s:
        assert len(s.exec(select(PublicIpAddress)).all()) == before
        assert len(s.exec(select(VlanIpRange)).all()) == 1


async def test_user_cannot_manage_physical_networks(app: VirgaApp, cloud: Cloud) -> None:
    from tests.conftest import client_for
    from tests.factories import make_user

    user = await client_for(app, make_user(app, "netuser"))
    try:
        for cmd, params in (
            ("listPhysicalNetworks", {}),
            ("listVlanIpRanges", {}),
            (
                "createVlanIpRange",
                {"zoneid": cloud.zone, "gateway": "1.1.1.1", "netmask": "255.255.255.0", "startip": "1.1.1.2"},
            ),
            ("listNetworkServiceProviders", {}),
            ("listVirtualRouterElements", {}),
        ):
            assert (await _err(user.call(cmd, **params))).code == 432
    finally:
        await user.close()
