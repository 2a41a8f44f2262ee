"""Helpers shared by the volume, snapshot, account and isolation tests."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from virga.client import ApiError, VirgaClient
from virga.core import VirgaApp
from virga.models import Account, DiskOffering, ServiceOffering, Template

from tests.conftest import client_for
from tests.factories import Cloud, make_network, make_user


def offering(app: VirgaApp, name: str = "Small Instance") -> str:
    """The uuid of a service offering."""
    with app.db.session() as s:
        return s.exec(select(ServiceOffering).where(ServiceOffering.name == name)).one().uuid


def disk_offering(app: VirgaApp, name: str = "Small") -> str:
    """The uuid of a disk offering."""
    with app.db.session() as s:
        return s.exec(select(DiskOffering).where(DiskOffering.name == name)).one().uuid


async def user_client(app: VirgaApp, name: str, accounttype: int = 0, domain_path: str = "/") -> VirgaClient:
    """A client for a (new) user in its own account."""
    return await client_for(app, make_user(app, name, accounttype=accounttype, domain_path=domain_path))


def own_template(app: VirgaApp, cloud: Cloud, account: str) -> str:
    """A ready copy of the cloud's template owned by an account (users cannot deploy the admin's yet)."""
    with app.db.session() as s:
        acct = s.exec(select(Account).where(Account.name == account, Account.removed == None)).one()
        if acct.accounttype == 1:
            return cloud.template
        base = s.exec(select(Template).where(Template.uuid == cloud.template)).one()
        found = s.exec(select(Template).where(Template.account_id == acct.id, Template.name == base.name)).first()
        if found is not None:
            return found.uuid
        copy = Template(**{k: v for k, v in base.model_dump().items() if k not in ("id", "uuid", "created")})
        copy.account_id, copy.domain_id, copy.ispublic = acct.id or 0, acct.domain_id, False
        s.add(copy)
        s.commit()
        return copy.uuid


async def deploy(
    app: VirgaApp,
    client: VirgaClient,
    cloud: Cloud,
    account: str,
    *,
    net: str | None = None,
    cidr: str = "10.1.1.0/24",
    **extra: Any,
) -> dict[str, Any]:
    """Deploy a VM for an account on its (new) network and return the VM."""
    net = net or make_network(app, cloud.zone, account, cidr=cidr, name=f"net-{account}")
    res = await client.run(
        "deployVirtualMachine",
        zoneid=cloud.zone,
        templateid=own_template(app, cloud, account),
        serviceofferingid=offering(app),
        networkids=net,
        **extra,
    )
    return res["virtualmachine"]


async def code_of(coro: Any) -> int:
    """The error code an API call fails with (0 when it succeeds)."""
    try:
        await coro
    except ApiError as err:
        return err.code
    return 0


def select_one(app: VirgaApp, model: Any, **where: Any) -> Any:
    """One row by column values, straight from the database."""
    with app.db.session() as s:
        stmt = select(model)
        for key, value in where.items():
            stmt = stmt.where(getattr(model, key) == value)
        return s.exec(stmt).first()
