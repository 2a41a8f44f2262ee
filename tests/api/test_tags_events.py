"""Tags, SSH key pairs, events and alerts through the API."""

from __future__ import annotations

import pytest
from virga.client import ApiError, VirgaClient
from virga.core import VirgaApp
from virga.models import ResourceTag
from virga.services.events import raise_alert

from tests.api.storage_helpers import code_of, deploy, select_one
from tests.factories import Cloud


async def test_tags(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    vm = await deploy(app, admin, cloud, "admin")
    tags = [{"key": "env", "value": "prod"}, {"key": "team", "value": "web"}]
    await admin.run("createTags", resourceids=vm["id"], resourcetype="UserVm", tags=tags)
    listed = await admin.list("listTags", "tag", resourceid=vm["id"])
    assert {(t["key"], t["value"], t["resourcetype"]) for t in listed} == {
        ("env", "prod", "UserVm"),
        ("team", "web", "UserVm"),
    }
    assert [
        v["id"]
        for v in await admin.list("listVirtualMachines", "virtualmachine", tags=[{"key": "env", "value": "prod"}])
    ] == [vm["id"]]
    shown = (await admin.list("listVirtualMachines", "virtualmachine", id=vm["id"]))[0]
    assert {t["key"] for t in shown["tags"]} == {"env", "team"}
    with pytest.raises(ApiError) as err:
        await admin.call("createTags", resourceids=vm["id"], resourcetype="UserVm", tags=[{"key": "env", "value": "x"}])
    assert err.value.code == 431 and "env" in err.value.text
    assert (
        await code_of(
            admin.call("createTags", resourceids=vm["id"], resourcetype="Planet", tags=[{"key": "a", "value": "b"}])
        )
        == 431
    )
    assert await code_of(admin.call("createTags", resourceids=vm["id"], resourcetype="UserVm")) == 431
    assert select_one(app, ResourceTag, key="a") is None
    await admin.run("deleteTags", resourceids=vm["id"], resourcetype="UserVm", tags=[{"key": "env"}])
    assert [t["key"] for t in await admin.list("listTags", "tag")] == ["team"]
    await admin.run("deleteTags", resourceids=vm["id"], resourcetype="UserVm")
    assert await admin.list("listTags", "tag") == []


async def test_ssh_keys(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    made = (await admin.call("createSSHKeyPair", name="made"))["keypair"]
    assert made["privatekey"].startswith("-----BEGIN RSA PRIVATE KEY-----") and len(made["fingerprint"]) == 47
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    pub = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
        + " me@host"
    )
    reg = (await admin.call("registerSSHKeyPair", name="mine", publickey=pub))["keypair"]
    assert "privatekey" not in reg and reg["fingerprint"].count(":") == 15
    assert await code_of(admin.call("registerSSHKeyPair", name="bad", publickey="ssh-rsa AAAAnotakey")) == 431
    assert await code_of(admin.call("registerSSHKeyPair", name="again", publickey=pub)) == 431
    assert await code_of(admin.call("createSSHKeyPair", name="made")) == 431
    listed = await admin.list("listSSHKeyPairs", "sshkeypair")
    assert {k["name"] for k in listed} == {"made", "mine"} and all("privatekey" not in k for k in listed)
    vm = await deploy(app, admin, cloud, "admin", keypair="made")
    assert vm["keypair"] == "made"
    assert await code_of(admin.call("resetSSHKeyForVirtualMachine", id=vm["id"], keypair="mine")) == 431
    await admin.run("stopVirtualMachine", id=vm["id"])
    assert (await admin.run("resetSSHKeyForVirtualMachine", id=vm["id"], keypair="mine"))["virtualmachine"][
        "keypair"
    ] == "mine"
    await admin.call("deleteSSHKeyPair", name="made")
    assert await code_of(admin.call("deleteSSHKeyPair", name="made")) == 431
    assert [k["name"] for k in await admin.list("listSSHKeyPairs", "sshkeypair")] == ["mine"]


async def test_events_and_alerts(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    vm = await deploy(app, admin, cloud, "admin")
    await admin.run("stopVirtualMachine", id=vm["id"])
    events = await admin.list("listEvents", "event")
    types = [e["type"] for e in events]
    assert "VM.CREATE" in types and "VM.STOP" in types and types.index("VM.STOP") < types.index("VM.CREATE")
    assert all(e["level"] == "INFO" for e in await admin.list("listEvents", "event", level="INFO"))
    assert [e["type"] for e in await admin.list("listEvents", "event", type="VM.STOP")] == ["VM.STOP"]
    assert await admin.list("listEvents", "event", startdate="2001-01-01", enddate="2001-01-02") == []
    assert await code_of(admin.call("listEvents", level="LOUD")) == 431
    assert await code_of(admin.call("listEvents", startdate="yesterday")) == 431
    assert "VM.CREATE" in [t["name"] for t in await admin.list("listEventTypes", "eventtype")]
    stop = (await admin.list("listEvents", "event", type="VM.STOP"))[0]
    await admin.call("archiveEvents", ids=stop["id"])
    assert await admin.list("listEvents", "event", type="VM.STOP") == []
    assert await code_of(admin.call("archiveEvents")) == 431
    await admin.call("deleteEvents", type="VM.CREATE")
    assert await admin.list("listEvents", "event", type="VM.CREATE") == []
    with app.db.session() as s:
        raise_alert(s, "HOST", "Host sim-host-0 is disconnected")
        raise_alert(s, "STORAGE", "Pool is full")
        s.commit()
    alerts = await admin.list("listAlerts", "alert")
    assert {a["name"] for a in alerts} == {"HOST", "STORAGE"} and all("sent" in a for a in alerts)
    assert [a["name"] for a in await admin.list("listAlerts", "alert", type=7)] == ["HOST"]
    assert [a["name"] for a in await admin.list("listAlerts", "alert", name="STORAGE")] == ["STORAGE"]
    host = next(a for a in alerts if a["name"] == "HOST")
    await admin.call("archiveAlerts", ids=host["id"])
    assert [a["name"] for a in await admin.list("listAlerts", "alert")] == ["STORAGE"]
    await admin.call("deleteAlerts", type="STORAGE")
    assert await admin.list("listAlerts", "alert") == []
