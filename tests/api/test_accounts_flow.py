"""Domains, accounts, users, keys and roles through the API."""

from __future__ import annotations

import pytest
from virga.client import ApiError, Credentials, VirgaClient
from virga.core import VirgaApp
from virga.drivers.simulator.world import WORLD
from virga.models import Account, Network, Volume

from tests.api.storage_helpers import code_of, deploy, disk_offering, select_one, user_client
from tests.conftest import client_for
from tests.factories import Cloud


async def _account(admin: VirgaClient, name: str, accounttype: int = 0, **extra: object) -> dict:
    """Create an account through the API."""
    body = await admin.call(
        "createAccount",
        username=name,
        password="pw-" + name,
        email=f"{name}@example.org",
        firstname=name.title(),
        lastname="Tester",
        accounttype=accounttype,
        **extra,
    )
    return body["account"]


async def test_domains(app: VirgaApp, admin: VirgaClient) -> None:
    eng = (await admin.call("createDomain", name="eng"))["domain"]
    assert eng["path"] == "ROOT/eng" and eng["level"] == 1 and eng["parentdomainname"] == "ROOT"
    web = (await admin.call("createDomain", name="web", parentdomainid=eng["id"]))["domain"]
    assert web["path"] == "ROOT/eng/web"
    assert await code_of(admin.call("createDomain", name="web", parentdomainid=eng["id"])) == 431
    assert await code_of(admin.call("createDomain", name="a/b")) == 431
    kids = await admin.list("listDomainChildren", "domain", id=eng["id"])
    assert [k["name"] for k in kids] == ["web"]
    assert (await admin.list("listDomains", "domain", id=eng["id"]))[0]["haschild"] is True
    assert {d["name"] for d in await admin.list("listDomains", "domain", listall=True)} == {"ROOT", "eng", "web"}
    eng = (await admin.call("updateDomain", id=eng["id"], name="engineering"))["domain"]
    assert (await admin.list("listDomains", "domain", id=web["id"]))[0]["path"] == "ROOT/engineering/web"
    await _account(admin, "dev1", domainid=web["id"])
    with pytest.raises(ApiError) as err:
        await admin.run("deleteDomain", id=eng["id"])
    assert err.value.code == 536
    await admin.run("deleteDomain", id=eng["id"], cleanup=True)
    assert {d["name"] for d in await admin.list("listDomains", "domain", listall=True)} == {"ROOT"}
    assert select_one(app, Account, name="dev1").removed is not None


async def test_account_and_user_lifecycle(app: VirgaApp, admin: VirgaClient) -> None:
    acct = await _account(admin, "carol")
    assert acct["accounttype"] == 0 and acct["roletype"] == "User" and acct["state"] == "enabled"
    assert acct["user"][0]["username"] == "carol" and acct["vmlimit"] == "Unlimited" and acct["vmtotal"] == 0
    assert await code_of(_account(admin, "carol")) == 431
    assert (
        await code_of(
            admin.call(
                "createAccount", username="x", password="p", email="nope", firstname="a", lastname="b", accounttype=0
            )
        )
        == 431
    )
    assert (
        await code_of(
            admin.call(
                "createAccount", username="x", password="p", email="x@y.z", firstname="a", lastname="b", accounttype=7
            )
        )
        == 431
    )
    assert select_one(app, Account, name="x") is None
    user = acct["user"][0]
    keys = (await admin.call("registerUserKeys", id=user["id"]))["userkeys"]
    assert keys["apikey"] and keys["secretkey"]
    assert (await admin.call("getUser", userapikey=keys["apikey"]))["user"]["id"] == user["id"]
    carol = await client_for(app, Credentials(apikey=keys["apikey"], secretkey=keys["secretkey"]))
    me = await carol.list("listAccounts", "account")
    assert [a["name"] for a in me] == ["carol"]
    # users change their own password with the current one
    assert await code_of(carol.call("updateUser", id=user["id"], password="new")) == 431
    await carol.call("updateUser", id=user["id"], password="new", currentpassword="pw-carol")
    login = VirgaClient(asgi=carol.http._transport.app, creds=Credentials(username="carol", password="new"))
    assert (await login.login())["username"] == "carol"
    # new keys replace the old ones
    new = (await carol.call("registerUserKeys", id=user["id"]))["userkeys"]
    assert new["apikey"] != keys["apikey"]
    assert await code_of(carol.call("listAccounts")) == 401
    carol = await client_for(app, Credentials(apikey=new["apikey"], secretkey=new["secretkey"]))
    assert (await carol.call("getUserKeys", id=user["id"]))["userkeys"]["secretkey"] == new["secretkey"]
    # a second user, disabled and deleted
    u2 = (
        await admin.call(
            "createUser",
            username="carol2",
            password="p",
            email="c2@example.org",
            firstname="C",
            lastname="Two",
            account="carol",
            domainid=acct["domainid"],
        )
    )["user"]
    assert (await admin.call("disableUser", id=u2["id"]))["user"]["state"] == "disabled"
    assert (await admin.call("enableUser", id=u2["id"]))["user"]["state"] == "enabled"
    assert len(await carol.list("listUsers", "user")) == 2
    await admin.call("deleteUser", id=u2["id"])
    assert await code_of(admin.call("deleteUser", id=user["id"])) == 536  # the last user stays
    # lock / disable / enable
    assert (await admin.call("lockAccount", id=acct["id"]))["account"]["state"] == "locked"
    assert await code_of(carol.call("listAccounts")) == 401
    await admin.call("enableAccount", id=acct["id"])
    assert len(await carol.list("listAccounts", "account")) == 1
    res = await admin.run("disableAccount", id=acct["id"], lock=False)
    assert res["account"]["state"] == "disabled"
    await admin.call("enableAccount", account="carol", domainid=acct["domainid"])
    acct = (await admin.call("updateAccount", id=acct["id"], newname="caroline"))["account"]
    assert acct["name"] == "caroline"
    await login.close()
    await carol.close()


async def test_disable_stops_vms_and_delete_removes_everything(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    dave = await user_client(app, "dave")
    vm = await deploy(app, dave, cloud, "dave")
    vol = await dave.run("createVolume", name="d", diskofferingid=disk_offering(app), virtualmachineid=vm["id"])
    root = (await dave.list("listVolumes", "volume", type="ROOT"))[0]
    await dave.run("createSnapshot", volumeid=root["id"])
    await dave.call("createSSHKeyPair", name="k")
    acct = (await admin.list("listAccounts", "account", name="dave", listall=True))[0]
    assert acct["vmtotal"] == 1 and acct["volumetotal"] == 2 and acct["vmrunning"] == 1
    await admin.run("disableAccount", id=acct["id"], lock=False)
    listed = await admin.list("listVirtualMachines", "virtualmachine", id=vm["id"], listall=True)
    assert listed[0]["state"] == "Stopped"
    await admin.run("deleteAccount", id=acct["id"])
    assert vm["id"] not in WORLD.guests
    assert not [p for p in WORLD.disks if root["id"] in p or vol["volume"]["id"] in p]
    assert select_one(app, Network, account_id=select_one(app, Account, name="dave").id).removed is not None
    assert select_one(app, Volume, uuid=vol["volume"]["id"]).removed is not None
    assert await admin.list("listAccounts", "account", name="dave", listall=True) == []
    assert await code_of(dave.call("listVirtualMachines")) == 401
    await dave.close()


async def test_roles(app: VirgaApp, admin: VirgaClient) -> None:
    user = await user_client(app, "roleuser")  # (the factory needs a single User role)
    roles = await admin.list("listRoles", "role")
    assert {r["type"] for r in roles} >= {"Admin", "DomainAdmin", "User"}
    r = (await admin.call("createRole", name="ops", type="User", description="operators"))["role"]
    assert r["type"] == "User" and r["isdefault"] is False
    assert await code_of(admin.call("createRole", name="bad", type="Wizard")) == 431
    r = (await admin.call("updateRole", id=r["id"], description="ops team"))["role"]
    assert r["description"] == "ops team"
    acct = await _account(admin, "opsy", accounttype=None, roleid=r["id"])
    assert acct["rolename"] == "ops" and acct["accounttype"] == 0
    assert await code_of(admin.call("deleteRole", id=r["id"])) == 536
    default = next(x for x in roles if x["type"] == "User")
    assert await code_of(admin.call("deleteRole", id=default["id"])) == 431
    assert await code_of(user.call("createRole", name="x", type="Admin")) == 432
    assert {x["type"] for x in await user.list("listRoles", "role")} == {"User"}
    await user.close()


async def test_domain_admin_scope(app: VirgaApp, admin: VirgaClient) -> None:
    from tests.factories import make_domain

    make_domain(app, "d1")
    make_domain(app, "d2")
    d1 = (await admin.list("listDomains", "domain", name="d1"))[0]
    d2 = (await admin.list("listDomains", "domain", name="d2"))[0]
    boss = await user_client(app, "boss1", accounttype=2, domain_path="/d1/")
    sub = (await boss.call("createDomain", name="team"))["domain"]
    assert sub["path"] == "ROOT/d1/team"
    acct = await _account(boss, "worker", domainid=sub["id"])
    assert acct["domain"] == "team"
    assert await code_of(_account(boss, "evil", domainid=d2["id"])) in (431, 531)
    assert await code_of(_account(boss, "root2", accounttype=1)) == 531
    assert await code_of(boss.call("createDomain", name="x", parentdomainid=d2["id"])) in (431, 531)
    names = {a["name"] for a in await boss.list("listAccounts", "account", listall=True)}
    assert names == {"boss1", "worker"}
    assert {d["name"] for d in await boss.list("listDomains", "domain", listall=True)} == {"d1", "team"}
    assert await code_of(boss.call("listDomainChildren", id=d2["id"])) == 431
    admin_user = (await admin.list("listUsers", "user", username="admin"))[0]
    assert await code_of(boss.call("registerUserKeys", id=admin_user["id"])) == 431
    assert await code_of(boss.call("updateResourceLimit", resourcetype=0, max=1, domainid=d1["id"])) == 531
    await boss.call("updateResourceLimit", resourcetype=0, max=3, account="worker", domainid=sub["id"])
    assert await code_of(boss.call("deleteDomain", id=d2["id"])) in (431, 531)
    await boss.run("deleteDomain", id=sub["id"], cleanup=True)
    await boss.close()
