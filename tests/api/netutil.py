"""Helpers of the guest networking API tests: offerings, users, networks and VMs through the API."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select
from virga.client import ApiError, VirgaClient
from virga.core import VirgaApp
from virga.models import NetworkOffering, ResourceLimit, ServiceOffering

from tests.conftest import client_for
from tests.factories import Cloud, make_user

ISOLATED = "DefaultIsolatedNetworkOfferingWithSourceNatService"


def offering(app: VirgaApp, name: str = ISOLATED) -> str:
    """The uuid of a network offering by name."""
    with app.db.session() as s:
        return s.exec(select(NetworkOffering).where(NetworkOffering.name == name)).one().uuid


def service_offering(app: VirgaApp, name: str = "Small Instance") -> str:
    """The uuid of a service offering by name."""
    with app.db.session() as s:
        return s.exec(select(ServiceOffering).where(ServiceOffering.name == name)).one().uuid


async def user(app: VirgaApp, name: str) -> VirgaClient:
    """An API client of a new user account."""
    return await client_for(app, make_user(app, name))


async def network(client: VirgaClient, app: VirgaApp, cloud: Cloud, name: str = "net1", **extra: Any) -> dict:
    """Create an isolated network through the API."""
    extra.setdefault("networkofferingid", offering(app))
    body = await client.call("createNetwork", name=name, displaytext=name, zoneid=cloud.zone, **extra)
    return body["network"]


async def vm(
    client: VirgaClient, app: VirgaApp, cloud: Cloud, net: str, name: str, account: str | None = None, **extra: Any
) -> dict:
    """Deploy a VM on a network through the API (an admin client deploys for `account`)."""
    if account:
        extra.update(account=account, domainid=root_domain(app))
    res = await client.run(
        "deployVirtualMachine",
        zoneid=cloud.zone,
        templateid=cloud.template,
        serviceofferingid=service_offering(app),
        networkids=net,
        name=name,
        **extra,
    )
    return res["virtualmachine"]


def root_domain(app: VirgaApp) -> str:
    """The ROOT domain's uuid."""
    from virga.models import Domain

    with app.db.session() as s:
        return s.exec(select(Domain).where(Domain.path == "/")).one().uuid


async def ip(client: VirgaClient, net: str) -> dict:
    """Associate a public IP with a network."""
    return (await client.run("associateIpAddress", networkid=net))["ipaddress"]


async def fails(code: int, coro: Any, text: str = "") -> ApiError:
    """Await a call that must fail with an error code (and text fragment)."""
    with pytest.raises(ApiError) as err:
        await coro
    assert err.value.code == code, err.value.text
    assert text.lower() in err.value.text.lower(), err.value.text
    return err.value


def limit(app: VirgaApp, account_name: str, rtype: int, value: int) -> None:
    """Set an account's resource limit straight in the database."""
    from virga.models import Account

    with app.db.session() as s:
        acct = s.exec(select(Account).where(Account.name == account_name)).one()
        s.add(ResourceLimit(resourcetype=rtype, max=value, account_id=acct.id))
        s.commit()
