"""The domain, account, user and role response objects."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from virga.api.response import clean
from virga.api.views.fields import FIELDS
from virga.api.views.limits import resource_fields
from virga.context import Ctx
from virga.models import Account, Domain, Role, User, VirtualMachine
from virga.services.states import VmState

FIELDS.update(
    {
        "domain": "id name level parentdomainid parentdomainname haschild path state networkdomain created "
        "vmlimit vmtotal vmavailable volumelimit volumetotal volumeavailable cpulimit cputotal memorylimit memorytotal",
        "account": "id name accounttype roleid rolename roletype domainid domain domainpath state networkdomain "
        "created "
        "isdefault user vmrunning vmstopped vmlimit vmtotal vmavailable iplimit iptotal ipavailable volumelimit "
        "volumetotal volumeavailable snapshotlimit snapshottotal snapshotavailable templatelimit templatetotal "
        "templateavailable networklimit networktotal networkavailable cpulimit cputotal cpuavailable memorylimit "
        "memorytotal memoryavailable primarystoragelimit primarystoragetotal primarystorageavailable",
    }
)

FIELDS.update(
    {
        "user": "id username firstname lastname email created state account accountid accounttype domainid domain "
        "domainpath roleid rolename roletype apikey timezone isdefault usersource",
        "userkeys": "apikey secretkey",
        "role": "id name type description isdefault",
    }
)


def display_path(dom: Domain) -> str:
    """CloudStack's domain path: ROOT, ROOT/child, ..."""
    return "ROOT" + ("/" + dom.path.strip("/") if dom.path != "/" else "")


def domain_view(ctx: Ctx, d: Domain) -> dict[str, Any]:
    """A domain response object."""
    parent = ctx.by_id(Domain, d.parent_id)
    child = ctx.db.exec(select(Domain.id).where(Domain.parent_id == d.id, Domain.removed == None)).first()
    return clean(
        {
            "id": d.uuid,
            "name": d.name,
            "level": d.level,
            "parentdomainid": parent.uuid if parent else None,
            "parentdomainname": parent.name if parent else None,
            "haschild": child is not None,
            "path": display_path(d),
            "state": d.state,
            "networkdomain": d.networkdomain,
            "created": d.created,
            **resource_fields(ctx, domain=d),
        }
    )


def user_view(ctx: Ctx, u: User, acct: Account | None = None) -> dict[str, Any]:
    """A user response object (the secret key is only given by registerUserKeys/getUserKeys)."""
    acct = acct or ctx.by_id(Account, u.account_id)
    dom = ctx.by_id(Domain, acct.domain_id) if acct else None
    role = ctx.by_id(Role, acct.role_id) if acct else None
    return clean(
        {
            "id": u.uuid,
            "username": u.username,
            "firstname": u.firstname,
            "lastname": u.lastname,
            "email": u.email or None,
            "created": u.created,
            "state": u.state,
            "account": acct.name if acct else None,
            "accountid": acct.uuid if acct else None,
            "accounttype": acct.accounttype if acct else None,
            "domainid": dom.uuid if dom else None,
            "domain": dom.name if dom else None,
            "domainpath": display_path(dom) if dom else None,
            "roleid": role.uuid if role else None,
            "rolename": role.name if role else None,
            "roletype": role.type if role else None,
            "apikey": u.apikey,
            "timezone": u.timezone,
            "isdefault": u.username in ("admin", "system"),
            "usersource": "native",
        }
    )


def account_view(ctx: Ctx, a: Account) -> dict[str, Any]:
    """An account response object, with its users and resource figures."""
    dom = ctx.by_id(Domain, a.domain_id)
    role = ctx.by_id(Role, a.role_id)
    users = ctx.db.exec(select(User).where(User.account_id == a.id, User.removed == None)).all()
    states = list(
        ctx.db.exec(
            select(VirtualMachine.state).where(VirtualMachine.account_id == a.id, VirtualMachine.removed == None)
        )
    )
    return clean(
        {
            "id": a.uuid,
            "name": a.name,
            "accounttype": a.accounttype,
            "roleid": role.uuid if role else None,
            "rolename": role.name if role else None,
            "roletype": role.type if role else None,
            "domainid": dom.uuid if dom else None,
            "domain": dom.name if dom else None,
            "domainpath": display_path(dom) if dom else None,
            "state": a.state,
            "networkdomain": a.networkdomain,
            "created": a.created,
            "isdefault": a.name in ("admin", "system") and a.accounttype == 1,
            "user": [user_view(ctx, u, a) for u in users],
            "vmrunning": states.count(VmState.RUNNING),
            "vmstopped": states.count(VmState.STOPPED),
            **resource_fields(ctx, account=a),
        }
    )


def role_view(ctx: Ctx, r: Role) -> dict[str, Any]:
    """A role response object."""
    return clean(
        {"id": r.uuid, "name": r.name, "type": r.type, "description": r.description or None, "isdefault": r.is_default}
    )


def accounts_view(ctx: Ctx, rows: list[Account]) -> list[dict[str, Any]]:
    """Account response objects (job results)."""
    return [account_view(ctx, a) for a in rows]


RENDERERS = {Account: ("account", accounts_view)}
