"""addCluster / addHost with hypervisor=XenServer against the fake XAPI: import, and refusals that leave nothing."""

from __future__ import annotations

import socket

import pytest
from virga.client import ApiError, VirgaClient
from virga.core import VirgaApp

from tests.factories import Cloud
from tests.fakes.api_flow import add_cluster, inventory
from tests.fakes.xapi import FakeXapi


async def test_add_cluster_imports_the_pool(app: VirgaApp, admin: VirgaClient, cloud: Cloud, fake: FakeXapi) -> None:
    cluster = await add_cluster(admin, cloud, "XenServer", fake.url, "root", "password")
    assert cluster["hypervisortype"] == "XenServer"
    hosts, pools = await inventory(admin, cluster["id"])
    assert sorted(h["name"] for h in hosts) == ["xs1", "xs2"]
    assert all(h["state"] == "Up" and h["hypervisor"] == "XenServer" and h["cpunumber"] == 8 for h in hosts)
    assert all("live_migration" in h["capabilities"] for h in hosts)
    assert [(p["name"], p["type"], p["scope"]) for p in pools] == [("NFS shared", "PreSetup", "CLUSTER")]
    sr = next(r for r in fake.db.table("SR").values() if r["name_label"] == "NFS shared")
    assert pools[0]["path"] == sr["uuid"]
    names = {
        t["name"] for t in await admin.list("listTemplates", "template", templatefilter="all", hypervisor="XenServer")
    }
    assert names == {"Tiny Linux", "Debian Bookworm 12"}
    events = await admin.list("listEvents", "event", type="HOST.ADD")
    assert any("networks: Pool-wide network associated with eth0, VLAN 100" in e["description"] for e in events)


async def test_add_host_imports_into_an_empty_cluster(admin: VirgaClient, cloud: Cloud, fake: FakeXapi) -> None:
    body = await admin.call(
        "addCluster",
        zoneid=cloud.zone,
        podid=cloud.pod,
        clustername="xen",
        hypervisor="XenServer",
        clustertype="CloudManaged",
    )
    cluster = body["cluster"][0]
    assert await inventory(admin, cluster["id"]) == ([], [])
    added = await admin.call(
        "addHost",
        zoneid=cloud.zone,
        podid=cloud.pod,
        clusterid=cluster["id"],
        hypervisor="XenServer",
        url=fake.url,
        username="root",
        password="password",
    )
    assert added["count"] == 2 and {h["name"] for h in added["host"]} == {"xs1", "xs2"}
    with pytest.raises(ApiError) as err:
        await admin.call(
            "addHost",
            zoneid=cloud.zone,
            podid=cloud.pod,
            clusterid=cluster["id"],
            hypervisor="XenServer",
            url=fake.url,
            username="root",
            password="password",
        )
    assert err.value.code == 431 and "already in cluster xen" in err.value.text


async def _refused(admin: VirgaClient, cloud: Cloud, url: str, password: str = "password") -> ApiError:
    """addCluster that must fail, leaving no cluster, host, pool or template behind."""
    before = len(await admin.list("listTemplates", "template", templatefilter="all"))
    with pytest.raises(ApiError) as err:
        await add_cluster(admin, cloud, "XenServer", url, "root", password)
    assert [c["name"] for c in await admin.list("listClusters", "cluster")] == ["cluster-1"]
    assert all(h["hypervisor"] == "Simulator" for h in await admin.list("listHosts", "host"))
    assert all(p["type"] == "Simulator" for p in await admin.list("listStoragePools", "storagepool"))
    assert len(await admin.list("listTemplates", "template", templatefilter="all")) == before
    return err.value


async def test_wrong_credentials(admin: VirgaClient, cloud: Cloud, fake: FakeXapi) -> None:
    err = await _refused(admin, cloud, fake.url, password="wrong")
    assert err.code == 431 and "wrong username or password" in err.text and "SESSION_AUTHENTICATION_FAILED" in err.text


async def test_unreachable_pool_master(admin: VirgaClient, cloud: Cloud) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    err = await _refused(admin, cloud, f"http://127.0.0.1:{port}/")
    assert err.code == 534 and "Unable to reach XenServer" in err.text and "cannot reach" in err.text


async def test_bad_certificate_is_refused_unless_verification_is_skipped(
    admin: VirgaClient, cloud: Cloud, tls_fake: FakeXapi
) -> None:
    err = await _refused(admin, cloud, tls_fake.url)
    assert err.code == 534 and "could not be verified" in err.text and "verify_ssl=false" in err.text
    cluster = await add_cluster(admin, cloud, "XenServer", f"{tls_fake.url}?verify_ssl=false", "root", "password")
    hosts, _ = await inventory(admin, cluster["id"])
    assert len(hosts) == 2


async def test_unknown_url_option(admin: VirgaClient, cloud: Cloud, fake: FakeXapi) -> None:
    err = await _refused(admin, cloud, f"{fake.url}?verify=false")
    assert err.code == 431 and "unknown option 'verify'" in err.text
    assert fake.calls == []  # refused before anything was contacted


async def test_host_in_another_cluster(admin: VirgaClient, cloud: Cloud, fake: FakeXapi) -> None:
    await add_cluster(admin, cloud, "XenServer", fake.url, "root", "password", name="first")
    err = await _refused_second(admin, cloud, fake)
    assert err.code == 431 and "already managed in another cluster" in err.text


async def _refused_second(admin: VirgaClient, cloud: Cloud, fake: FakeXapi) -> ApiError:
    """A second import of the same pool into another cluster (must fail and add no cluster)."""
    with pytest.raises(ApiError) as err:
        await add_cluster(admin, cloud, "XenServer", fake.url, "root", "password", name="second")
    assert "second" not in {c["name"] for c in await admin.list("listClusters", "cluster")}
    return err.value
