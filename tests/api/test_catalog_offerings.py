"""Service, disk and network offerings and OS types through the API."""

from __future__ import annotations

import pytest
from sqlmodel import select
from virga.client import ApiError, VirgaClient
from virga.core import VirgaApp
from virga.models import Domain, ServiceOffering

from tests.conftest import client_for
from tests.factories import Cloud, make_domain, make_network, make_user


async def _err(coro: object) -> ApiError:
    """Await a call expected to fail and return its error."""
    with pytest.raises(ApiError) as err:
        await coro  # type: ignore[misc]
    return err.value


async def test_service_offerings(app: VirgaApp, admin: VirgaClient) -> None:
    so = (
        await admin.call(
            "createServiceOffering",
            name="big",
            displaytext="Big",
            cpunumber=4,
            cpuspeed=2000,
            memory=8192,
            hosttags="gpu",
            tags="ssd",
            offerha=True,
        )
    )["serviceoffering"]
    assert (so["cpunumber"], so["cpuspeed"], so["memory"], so["iscustomized"]) == (4, 2000, 8192, False)
    assert so["hosttags"] == "gpu" and so["storagetags"] == "ssd" and so["offerha"] is True
    custom = (await admin.call("createServiceOffering", name="flex", displaytext="Flexible"))["serviceoffering"]
    assert custom["iscustomized"] is True and "cpunumber" not in custom
    up = (await admin.call("updateServiceOffering", id=so["id"], name="bigger", hosttags=""))["serviceoffering"]
    assert up["name"] == "bigger" and "hosttags" not in up
    names = {o["name"] for o in await admin.list("listServiceOfferings", "serviceoffering")}
    assert {"bigger", "flex", "Small Instance"} <= names
    assert (await admin.call("deleteServiceOffering", id=so["id"]))["success"] is True
    assert await admin.list("listServiceOfferings", "serviceoffering", id=so["id"]) == []


async def test_duplicate_offering_names_are_allowed(admin: VirgaClient) -> None:
    """CloudStack allows a second service or disk offering of a name (Marvin makes a second Tiny Instance)."""
    so = (
        await admin.call(
            "createServiceOffering", name="Small Instance", displaytext="x", cpunumber=1, cpuspeed=100, memory=64
        )
    )["serviceoffering"]
    assert len(await admin.list("listServiceOfferings", "serviceoffering", name="Small Instance")) == 2
    up = (await admin.call("updateServiceOffering", id=so["id"], name="Tiny Instance"))["serviceoffering"]
    assert up["name"] == "Tiny Instance"
    do = (await admin.call("createDiskOffering", name="Small", displaytext="x", disksize=1))["diskoffering"]
    assert len(await admin.list("listDiskOfferings", "diskoffering", name="Small")) == 2
    assert (await admin.call("updateDiskOffering", id=do["id"], name="Medium"))["diskoffering"]["name"] == "Medium"


@pytest.mark.parametrize(
    ("params", "word"),
    [
        ({"cpunumber": 2}, "memory"),
        ({"cpunumber": 0, "cpuspeed": 1, "memory": 64}, "cpunumber"),
        ({"cpunumber": 1, "cpuspeed": 100, "memory": 16}, "memory"),
        ({"storagetype": "cloud"}, "storagetype"),
        ({"cpunumber": 1, "cpuspeed": 100, "memory": 64, "customized": True}, "customized"),
        ({"cpunumber": "x"}, "cpunumber"),
    ],
)
async def test_service_offering_bad_input(app: VirgaApp, admin: VirgaClient, params: dict, word: str) -> None:
    err = await _err(admin.call("createServiceOffering", **{"name": "bad-so", "displaytext": "x", **params}))
    assert err.code == 431 and word in err.text
    with app.db.session() as s:
        assert s.exec(select(ServiceOffering).where(ServiceOffering.name == "bad-so")).first() is None


async def test_domain_offerings_and_user_view(app: VirgaApp, admin: VirgaClient) -> None:
    path = make_domain(app, "sales")
    with app.db.session() as s:
        sales = s.exec(select(Domain).where(Domain.path == path)).one().uuid
    await admin.call("createServiceOffering", name="sales-only", cpunumber=1, cpuspeed=500, memory=256, domainid=sales)
    await admin.call("createDiskOffering", name="sales-disk", disksize=3, domainid=sales)
    outsider = await client_for(app, make_user(app, "outsider"))
    insider = await client_for(app, make_user(app, "insider", domain_path=path))
    try:
        out_names = {o["name"] for o in await outsider.list("listServiceOfferings", "serviceoffering")}
        in_names = {o["name"] for o in await insider.list("listServiceOfferings", "serviceoffering")}
        assert "sales-only" not in out_names and "sales-only" in in_names and "Small Instance" in out_names
        assert "sales-disk" in {o["name"] for o in await insider.list("listDiskOfferings", "diskoffering")}
        assert "sales-disk" not in {o["name"] for o in await outsider.list("listDiskOfferings", "diskoffering")}
        for cmd, params in (
            ("createServiceOffering", {"name": "x", "cpunumber": 1, "cpuspeed": 1, "memory": 64}),
            ("createDiskOffering", {"name": "x", "disksize": 1}),
            ("createNetworkOffering", {"name": "x", "guestiptype": "Isolated", "traffictype": "GUEST"}),
            ("updateConfiguration", {"name": "expunge.delay", "value": "1"}),
        ):
            assert (await _err(outsider.call(cmd, **params))).code == 432
        assert (await _err(outsider.call("listServiceOfferings", issystem=True))).code == 531
    finally:
        await outsider.close()
        await insider.close()


async def test_offerings_for_vm_scaling(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    net = make_network(app, cloud.zone, "admin")
    small = (await admin.list("listServiceOfferings", "serviceoffering", name="Small Instance"))[0]
    vm = (
        await admin.run(
            "deployVirtualMachine",
            zoneid=cloud.zone,
            templateid=cloud.template,
            serviceofferingid=small["id"],
            networkids=net,
        )
    )["virtualmachine"]
    names = {o["name"] for o in await admin.list("listServiceOfferings", "serviceoffering", virtualmachineid=vm["id"])}
    assert "Small Instance" not in names and "Medium Instance" in names


async def test_disk_offerings(app: VirgaApp, admin: VirgaClient) -> None:
    d = (
        await admin.call(
            "createDiskOffering", name="d50", displaytext="50 GB", disksize=50, tags="ssd", provisioningtype="fat"
        )
    )["diskoffering"]
    assert d["disksize"] == 50 and d["tags"] == "ssd" and d["provisioningtype"] == "fat"
    c = (await admin.call("createDiskOffering", name="dcustom", customized=True))["diskoffering"]
    assert c["iscustomized"] is True
    for params, word in (
        ({"name": "e1"}, "disksize"),
        ({"name": "e2", "disksize": 0}, "disksize"),
        ({"name": "e3", "disksize": 1, "customized": True}, "disksize"),
        ({"name": "e4", "disksize": 1, "provisioningtype": "thick"}, "provisioningtype"),
    ):
        err = await _err(admin.call("createDiskOffering", **params))
        assert err.code == 431 and word in err.text
    d = (await admin.call("updateDiskOffering", id=d["id"], name="d50b"))["diskoffering"]
    assert d["name"] == "d50b"
    assert (await admin.call("deleteDiskOffering", id=d["id"]))["success"] is True
    assert "d50b" not in {o["name"] for o in await admin.list("listDiskOfferings", "diskoffering")}


async def test_network_offerings(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    no = (
        await admin.call(
            "createNetworkOffering",
            name="iso-lb",
            displaytext="Isolated with LB",
            guestiptype="Isolated",
            traffictype="GUEST",
            supportedservices="Dhcp,Dns,SourceNat,Firewall,Lb,PortForwarding",
            serviceproviderlist=[
                {"service": "Dhcp", "provider": "VirtualRouter"},
                {"service": "Lb", "provider": "VirtualRouter"},
            ],
            egressdefaultpolicy=False,
        )
    )["networkoffering"]
    assert no["state"] == "Disabled" and no["egressdefaultpolicy"] is False and no["guestiptype"] == "Isolated"
    assert {s["name"] for s in no["service"]} == {"Dhcp", "Dns", "SourceNat", "Firewall", "Lb", "PortForwarding"}
    assert all(s["provider"] == [{"name": "VirtualRouter"}] for s in no["service"])
    user = await client_for(app, make_user(app, "nouser"))
    try:
        assert no["id"] not in {o["id"] for o in await user.list("listNetworkOfferings", "networkoffering")}
        no = (await admin.call("updateNetworkOffering", id=no["id"], state="Enabled"))["networkoffering"]
        assert no["state"] == "Enabled"
        assert no["id"] in {o["id"] for o in await user.list("listNetworkOfferings", "networkoffering")}
    finally:
        await user.close()
    sg = (
        await admin.call(
            "createNetworkOffering",
            name="shared-sg",
            guestiptype="Shared",
            traffictype="GUEST",
            supportedservices="Dhcp,Dns,SecurityGroup",
            specifyvlan=True,
        )
    )["networkoffering"]
    assert {s["name"]: s["provider"][0]["name"] for s in sg["service"]}["SecurityGroup"] == "SecurityGroupProvider"
    with_lb = await admin.list("listNetworkOfferings", "networkoffering", supportedservices="Lb")
    assert no["id"] in {o["id"] for o in with_lb} and sg["id"] not in {o["id"] for o in with_lb}
    for params, word in (
        ({"guestiptype": "Public"}, "guestiptype"),
        ({"traffictype": "PUBLIC"}, "traffictype"),
        ({"supportedservices": "Dhcp,Teleport"}, "supportedservices"),
        ({"supportedservices": "SecurityGroup"}, "SecurityGroup"),
        (
            {"supportedservices": "Dhcp", "serviceproviderlist": [{"service": "Lb", "provider": "VirtualRouter"}]},
            "serviceproviderlist",
        ),
        (
            {
                "supportedservices": "Dhcp",
                "serviceproviderlist": [{"service": "Dhcp", "provider": "SecurityGroupProvider"}],
            },
            "serviceproviderlist",
        ),
    ):
        err = await _err(
            admin.call(
                "createNetworkOffering",
                **{"name": "bad-no", "guestiptype": "Isolated", "traffictype": "GUEST", **params},
            )
        )
        assert err.code == 431 and word in err.text
    default = (await admin.list("listNetworkOfferings", "networkoffering", isdefault=True))[0]
    assert (await _err(admin.call("deleteNetworkOffering", id=default["id"]))).code == 431
    make_network(app, cloud.zone, "admin")
    used = (
        await admin.list(
            "listNetworkOfferings", "networkoffering", name="DefaultIsolatedNetworkOfferingWithSourceNatService"
        )
    )[0]
    assert used["isdefault"] is True
    assert (await admin.call("deleteNetworkOffering", id=sg["id"]))["success"] is True


async def test_network_offering_in_use(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    from virga.models import Network, NetworkOffering

    no = (
        await admin.call(
            "createNetworkOffering",
            name="iso2",
            guestiptype="Isolated",
            traffictype="GUEST",
            supportedservices="Dhcp,Dns,SourceNat",
        )
    )["networkoffering"]
    net_uuid = make_network(app, cloud.zone, "admin")
    with app.db.session() as s:
        net = s.exec(select(Network).where(Network.uuid == net_uuid)).one()
        net.networkoffering_id = s.exec(select(NetworkOffering).where(NetworkOffering.uuid == no["id"])).one().id
        s.add(net)
        s.commit()
    err = await _err(admin.call("deleteNetworkOffering", id=no["id"]))
    assert err.code == 536


async def test_os_types(admin: VirgaClient) -> None:
    cats = await admin.list("listOsCategories", "oscategory")
    debian = next(c for c in cats if c["name"] == "Debian")
    types = await admin.list("listOsTypes", "ostype", oscategoryid=debian["id"])
    assert types and all(t["oscategoryid"] == debian["id"] for t in types)
    assert any("Debian" in t["description"] for t in types)
    assert await admin.list("listOsTypes", "ostype", keyword="Ubuntu")
