"""Resource limits (532) and counts through the API."""

from __future__ import annotations

import pytest
from virga.client import ApiError, VirgaClient
from virga.core import VirgaApp
from virga.models import Volume

from tests.api.storage_helpers import code_of, deploy, disk_offering, offering, own_template, select_one, user_client
from tests.factories import Cloud, make_network


async def _limit(admin: VirgaClient, rtype: int, value: int, account: str = "lim") -> None:
    """Set an account's limit."""
    acct = (await admin.list("listAccounts", "account", name=account, listall=True))[0]
    await admin.call("updateResourceLimit", resourcetype=rtype, max=value, account=account, domainid=acct["domainid"])


async def test_limits_and_counts(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    user = await user_client(app, "lim")
    vm = await deploy(app, user, cloud, "lim")
    net = vm["nic"][0]["networkid"]
    deploy_args = {
        "zoneid": cloud.zone,
        "templateid": own_template(app, cloud, "lim"),
        "serviceofferingid": offering(app),
        "networkids": net,
    }
    # VMs (type 0)
    await _limit(admin, 0, 1)
    with pytest.raises(ApiError) as err:
        await user.call("deployVirtualMachine", **deploy_args)
    assert err.value.code == 532 and "user_vm" in err.value.text
    await _limit(admin, 0, -1)
    # CPU (8) and memory (9)
    await _limit(admin, 8, 1)
    assert await code_of(user.call("deployVirtualMachine", **deploy_args)) == 532
    await _limit(admin, 8, -1)
    await _limit(admin, 9, 600)
    assert await code_of(user.call("deployVirtualMachine", **deploy_args)) == 532
    await _limit(admin, 9, -1)
    # volumes (2) and primary storage (10)
    await _limit(admin, 2, 1)
    assert (
        await code_of(user.call("createVolume", name="v", zoneid=cloud.zone, diskofferingid=disk_offering(app))) == 532
    )
    await _limit(admin, 2, -1)
    await _limit(admin, 10, 3)
    assert (
        await code_of(user.call("createVolume", name="v", zoneid=cloud.zone, diskofferingid=disk_offering(app))) == 532
    )
    assert select_one(app, Volume, name="v") is None
    await _limit(admin, 10, 8)
    vol = (await user.run("createVolume", name="v", zoneid=cloud.zone, diskofferingid=disk_offering(app)))["volume"]
    assert await code_of(user.call("resizeVolume", id=vol["id"], size=20)) == 532
    # the limits and counts as lists
    acct = (await admin.list("listAccounts", "account", name="lim", listall=True))[0]
    assert acct["primarystoragelimit"] == "8" and acct["vmtotal"] == 1 and acct["volumetotal"] == 2
    limits = await user.list("listResourceLimits", "resourcelimit")
    assert len(limits) == 12 and {x["max"] for x in limits if x["resourcetype"] == "10"} == {8}
    counts = await admin.list("updateResourceCount", "resourcecount", account="lim", domainid=acct["domainid"])
    by_type = {c["resourcetype"]: c["resourcecount"] for c in counts}
    assert by_type["0"] == 1 and by_type["2"] == 2 and by_type["8"] == 1 and by_type["9"] == 512
    # users cannot change limits; bad types are 431
    assert await code_of(user.call("updateResourceLimit", resourcetype=0, max=99)) == 432
    assert await code_of(admin.call("updateResourceLimit", resourcetype=12, max=1, domainid=acct["domainid"])) == 431
    assert await code_of(admin.call("updateResourceLimit", resourcetype=0, max=-5, domainid=acct["domainid"])) == 431
    await user.close()


async def test_domain_limit(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    from tests.factories import make_domain

    make_domain(app, "capped")
    dom = (await admin.list("listDomains", "domain", name="capped"))[0]
    u1 = await user_client(app, "cap1", domain_path="/capped/")
    await deploy(app, u1, cloud, "cap1")
    await admin.call("updateResourceLimit", resourcetype=0, max=1, domainid=dom["id"])
    u2 = await user_client(app, "cap2", domain_path="/capped/")
    net = make_network(app, cloud.zone, "cap2", cidr="10.1.2.0/24", name="n2")
    with pytest.raises(ApiError) as err:
        await u2.call(
            "deployVirtualMachine",
            zoneid=cloud.zone,
            templateid=own_template(app, cloud, "cap2"),
            serviceofferingid=offering(app),
            networkids=net,
        )
    assert err.value.code == 532 and "capped" in err.value.text
    assert (await admin.list("listDomains", "domain", id=dom["id"]))[0]["vmtotal"] == 1
    await u1.close()
    await u2.close()
