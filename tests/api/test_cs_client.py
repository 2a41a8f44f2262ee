"""The real `cs` client (PyPI) against `virga serve` on loopback: the API as CloudStack's clients see it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests
from cs import CloudStack, CloudStackApiException

VIRGA = [sys.executable, "-m", "virga.cli.main"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """`virga init` then `virga serve` on a free loopback port; yields the endpoint and admin credentials."""
    root = tmp_path_factory.mktemp("served")
    env = {**os.environ, "VIRGA_DATA_DIR": str(root / "data"), "VIRGA_CONFIG_DIR": str(root / "config")}
    creds = json.loads(
        subprocess.run([*VIRGA, "init", "--print-json"], env=env, check=True, capture_output=True, text=True).stdout
    )
    port = _free_port()
    proc = subprocess.Popen(
        [*VIRGA, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    endpoint = f"http://127.0.0.1:{port}/client/api"
    for _ in range(200):
        try:
            requests.get(endpoint, timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.05)
    yield endpoint, creds
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def cs(server: tuple[str, dict[str, str]]) -> CloudStack:
    """A cs client signed with the admin's keys (signature version 3 with expires)."""
    endpoint, creds = server
    return CloudStack(
        endpoint=endpoint,
        key=creds["apikey"],
        secret=creds["secretkey"],
        fetch_result=True,
        job_timeout=60,
        poll_interval=0.05,
    )


@pytest.fixture(scope="module")
def zone(cs: CloudStack) -> dict[str, str]:
    """A simulator zone built through cs."""
    return build_zone(cs)


def build_zone(cs: CloudStack) -> dict[str, str]:
    """Build a simulator zone through cs, as a CloudStack admin would."""
    z = cs.createZone(name="cs-zone", dns1="9.9.9.9", internaldns1="10.0.0.2", networktype="Advanced")["zone"]
    pn = cs.createPhysicalNetwork(zoneid=z["id"], name="physnet")["physicalnetwork"]
    for tt in ("Guest", "Public", "Management"):
        cs.addTrafficType(physicalnetworkid=pn["id"], traffictype=tt)
    cs.updatePhysicalNetwork(id=pn["id"], state="Enabled")
    cs.createVlanIpRange(
        zoneid=z["id"],
        forvirtualnetwork=True,
        vlan="untagged",
        gateway="203.0.113.1",
        netmask="255.255.255.0",
        startip="203.0.113.10",
        endip="203.0.113.60",
    )
    pod = cs.createPod(
        zoneid=z["id"],
        name="pod",
        gateway="172.16.0.1",
        netmask="255.255.255.0",
        startip="172.16.0.10",
        endip="172.16.0.100",
    )["pod"]
    cl = cs.addCluster(
        zoneid=z["id"], podid=pod["id"], clustername="cl", hypervisor="Simulator", clustertype="CloudManaged"
    )["cluster"][0]
    for i in range(2):
        cs.addHost(
            zoneid=z["id"], podid=pod["id"], clusterid=cl["id"], hypervisor="Simulator", url=f"simulator://cs-host-{i}"
        )
    cs.createStoragePool(zoneid=z["id"], podid=pod["id"], clusterid=cl["id"], name="ps", url="simulator://cs-ps")
    cs.updateZone(id=z["id"], allocationstate="Enabled")
    ostype = cs.listOsTypes(description="Other Linux (64-bit)")["ostype"][0]["id"]
    tmpl = cs.registerTemplate(
        name="tiny",
        displaytext="tiny",
        url="simulator://tiny.qcow2",
        zoneid=z["id"],
        format="QCOW2",
        hypervisor="Simulator",
        ostypeid=ostype,
        ispublic=True,
    )["template"][0]
    for _ in range(300):
        if cs.listTemplates(templatefilter="all", id=tmpl["id"])["template"][0].get("isready"):
            break
        time.sleep(0.05)
    off = cs.listNetworkOfferings(name="DefaultIsolatedNetworkOfferingWithSourceNatService")["networkoffering"][0]
    net = cs.createNetwork(
        name="n1",
        displaytext="n1",
        zoneid=z["id"],
        networkofferingid=off["id"],
        gateway="10.1.1.1",
        netmask="255.255.255.0",
    )["network"]
    so = cs.listServiceOfferings(name="Small Instance")["serviceoffering"][0]
    return {"zone": z["id"], "template": tmpl["id"], "network": net["id"], "offering": so["id"], "host": ""}


def _deploy(cs: CloudStack, zone: dict[str, str], **extra: str) -> dict:
    return cs.deployVirtualMachine(
        zoneid=zone["zone"],
        templateid=zone["template"],
        serviceofferingid=zone["offering"],
        networkids=zone["network"],
        **extra,
    )


def test_lifecycle_through_cs(cs: CloudStack, zone: dict[str, str]) -> None:
    vm = _deploy(cs, zone, name="cs-vm")["virtualmachine"]
    assert vm["state"] == "Running" and vm["nic"][0]["ipaddress"].startswith("10.1.1.")
    listed = cs.listVirtualMachines(id=vm["id"])["virtualmachine"][0]
    assert listed["name"] == "cs-vm" and listed["serviceofferingname"] == "Small Instance"
    assert cs.stopVirtualMachine(id=vm["id"])["virtualmachine"]["state"] == "Stopped"
    assert cs.startVirtualMachine(id=vm["id"])["virtualmachine"]["state"] == "Running"
    assert cs.destroyVirtualMachine(id=vm["id"])["virtualmachine"]["state"] == "Destroyed"
    cs.expungeVirtualMachine(id=vm["id"])
    assert cs.listVirtualMachines(id=vm["id"]) == {}


def test_injected_failure_leaves_nothing(cs: CloudStack, zone: dict[str, str]) -> None:
    before_ips = cs.listPublicIpAddresses(allocatedonly=True).get("count", 0)
    cs.configureSimulator(zoneid=zone["zone"], name="create_instance", value="fail:injected by the test", count=1)
    with pytest.raises(CloudStackApiException) as err:
        _deploy(cs, zone, name="doomed")
    result = err.value.error  # cs hands over the failed job's jobresult
    assert result["errorcode"] == 530 and "injected by the test" in result["errortext"]
    assert cs.listVirtualMachines(name="doomed", listall=True) == {}
    vols = cs.listVolumes(listall=True).get("volume", [])
    assert not [v for v in vols if "doomed" in v.get("vmname", "")]
    assert cs.listPublicIpAddresses(allocatedonly=True).get("count", 0) == before_ips


def test_pagination_three_pages(cs: CloudStack, zone: dict[str, str]) -> None:
    for i in range(5):
        _deploy(cs, zone, name=f"page-{i}")
    seen = []
    for page in (1, 2, 3):
        res = cs.listVirtualMachines(keyword="page-", page=page, pagesize=2)
        assert res["count"] == 5
        seen += [v["name"] for v in res["virtualmachine"]]
    assert sorted(seen) == [f"page-{i}" for i in range(5)]
    assert len(cs.listVirtualMachines(keyword="page-", fetch_list=True)) == 5


def test_bad_secret_is_401(server: tuple[str, dict[str, str]]) -> None:
    endpoint, creds = server
    bad = CloudStack(endpoint=endpoint, key=creds["apikey"], secret="not-the-secret")
    with pytest.raises(CloudStackApiException) as err:
        bad.listZones()
    assert err.value.error["errorcode"] == 401
    assert "unable to verify user credentials" in err.value.error["errortext"]


def test_login_sessionkey(server: tuple[str, dict[str, str]]) -> None:
    endpoint, creds = server
    s = requests.Session()
    r = s.post(
        endpoint, data={"command": "login", "username": "admin", "password": creds["password"], "response": "json"}
    )
    key = r.json()["loginresponse"]["sessionkey"]
    r = s.get(endpoint, params={"command": "listZones", "response": "json", "sessionkey": key})
    assert r.status_code == 200 and "listzonesresponse" in r.json()
    r = requests.get(endpoint, params={"command": "listZones", "response": "json", "sessionkey": "nope"})
    assert r.status_code == 401


def test_expired_v3_signature_rejected(server: tuple[str, dict[str, str]]) -> None:
    from virga.api.auth import sign

    endpoint, creds = server
    params = {
        "command": "listZones",
        "response": "json",
        "apiKey": creds["apikey"],
        "signatureVersion": "3",
        "expires": "2001-01-01T00:00:00+0000",
    }
    params["signature"] = sign(params, creds["secretkey"])
    assert requests.get(endpoint, params=params).status_code == 401


def test_bad_input(cs: CloudStack) -> None:
    with pytest.raises(CloudStackApiException) as err:
        cs.deployVirtualMachine(zoneid="not-a-uuid", templateid="x", serviceofferingid="y")
    assert err.value.error["errorcode"] == 431 and "zoneid" in err.value.error["errortext"]
    with pytest.raises(CloudStackApiException) as err:
        cs.createZone(name="z-missing")
    assert err.value.error["errorcode"] == 431 and "dns1" in err.value.error["errortext"]
    with pytest.raises(CloudStackApiException) as err:
        cs.noSuchCommand()
    assert err.value.error["errorcode"] == 432
    assert [z for z in cs.listZones(fetch_list=True) if z["name"] == "z-missing"] == []
