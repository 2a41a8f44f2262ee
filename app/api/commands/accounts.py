"""Domains and accounts: the tenancy tree. Domain admins manage their subtree; users see themselves."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from virga.api.registry import ADMINS, Param, api
from virga.api.response import list_body
from virga.api.views.accounts import account_view, display_path, domain_view
from virga.context import Ctx
from virga.errors import InUse, InvalidParameter, PermissionDenied
from virga.jobs.pending import Pending
from virga.models import Account, AsyncJob, Domain, Role
from virga.services import accounts as svc

ROLE_TYPES = {0: "User", 1: "Admin", 2: "DomainAdmin"}
TYPE_OF_ROLE = {"User": 0, "Admin": 1, "DomainAdmin": 2, "ResourceAdmin": 1}
ACTIVE_JOBS = ("queued", "running")  # AsyncJob states of a job not finished yet


def in_subtree(ctx: Ctx, dom: Domain) -> bool:
    """Whether the caller administers a domain (root admins: all; domain admins: their subtree)."""
    return ctx.is_root or (ctx.role == "DomainAdmin" and dom.path.startswith(ctx.domain.path))


def domain_of(ctx: Ctx, uuid: str | None, param: str = "domainid") -> Domain:
    """A domain the caller may see (users: their own), or 431."""
    dom = ctx.get(Domain, uuid, param)
    if not (in_subtree(ctx, dom) or dom.id == ctx.domain.id):
        raise InvalidParameter(f"Unable to find Domain with id {uuid} (parameter {param})")
    return dom


# --- domains -----------------------------------------------------------------------


@api(
    "createDomain",
    "Creates a domain",
    "domain",
    [
        Param("name", required=True, description="the name"),
        Param("parentdomainid", "uuid", description="parent"),
        Param("networkdomain", description="network domain of its networks"),
        Param("domainid", "uuid", description="the uuid to give the domain"),
    ],
    roles=ADMINS,
)
def create_domain(ctx: Ctx) -> dict[str, Any]:
    """Add a domain under a parent the caller administers."""
    a = ctx.args
    parent = domain_of(ctx, a.parentdomainid, "parentdomainid") if a.parentdomainid else ctx.domain
    if not in_subtree(ctx, parent):
        raise PermissionDenied(f"Account {ctx.account.name} cannot create domains under {parent.name}")
    _check_name(ctx, a.name, parent)
    dom = svc.create_domain(ctx.db, ctx.user, parent, a.name, networkdomain=a.networkdomain, uuid=a.domainid)
    return {"domain": domain_view(ctx, dom)}


def _check_name(ctx: Ctx, name: str, parent: Domain) -> None:
    """A domain name: no slashes, unique among its siblings."""
    if not name.strip() or "/" in name:
        raise InvalidParameter("Parameter name must be non-empty and may not contain '/'")
    taken = ctx.db.exec(
        select(Domain).where(Domain.parent_id == parent.id, Domain.name == name, Domain.removed == None)
    ).first()
    if taken is not None:
        raise InvalidParameter(f"Domain {name} already exists under {display_path(parent)} (parameter name)")


@api(
    "listDomains",
    "Lists domains",
    "domain",
    [
        Param("id", "uuid", description="the domain"),
        Param("name", description="the name"),
        Param("level", "integer", description="the level"),
        Param("details", "list", description="unused"),
    ],
    paged=True,
)
def list_domains(ctx: Ctx) -> dict[str, Any]:
    """Root admins see all domains, domain admins their subtree, users their own domain."""
    stmt = select(Domain)
    if ctx.role == "User":
        stmt = stmt.where(Domain.id == ctx.domain.id)
    elif not ctx.is_root:
        stmt = stmt.where(Domain.path.startswith(ctx.domain.path))
    if ctx.args.level is not None:
        stmt = stmt.where(Domain.level == ctx.args.level)
    if not ctx.args.listall and not ctx.args.id and not ctx.args.name and ctx.args.level is None:
        stmt = stmt.where(Domain.id == ctx.domain.id) if not ctx.is_root else stmt
    rows, count = ctx.page(stmt, Domain, order=Domain.path)
    return list_body("domain", [domain_view(ctx, d) for d in rows], count)


@api(
    "listDomainChildren",
    "Lists the children of a domain",
    "domain",
    [
        Param("id", "uuid", description="the parent (default: the caller's domain)"),
        Param("name", description="the name"),
        Param("isrecursive", "boolean", description="all descendants"),
    ],
    paged=True,
)
def list_children(ctx: Ctx) -> dict[str, Any]:
    """Children (or all descendants) of a domain the caller administers."""
    parent = domain_of(ctx, ctx.args.id, "id") if ctx.args.id else ctx.domain
    if not in_subtree(ctx, parent):
        return {}
    if ctx.args.isrecursive:
        stmt = select(Domain).where(Domain.path.startswith(parent.path), Domain.id != parent.id)
    else:
        stmt = select(Domain).where(Domain.parent_id == parent.id)
    ctx.args.pop("id", None)
    rows, count = ctx.page(stmt, Domain, order=Domain.path)
    return list_body("domain", [domain_view(ctx, d) for d in rows], count)


@api(
    "updateDomain",
    "Renames a domain or changes its network domain",
    "domain",
    [
        Param("id", "uuid", required=True, description="the domain"),
        Param("name", description="the new name"),
        Param("networkdomain", description="network domain"),
    ],
    roles=ADMINS,
)
def update_domain(ctx: Ctx) -> dict[str, Any]:
    """Rename a domain (its descendants' paths follow)."""
    dom = domain_of(ctx, ctx.args.id, "id")
    if not in_subtree(ctx, dom) or dom.id == ctx.domain.id and not ctx.is_root:
        raise PermissionDenied(f"Account {ctx.account.name} cannot change domain {dom.name}")
    parent = None
    if ctx.args.name and ctx.args.name != dom.name:
        if dom.parent_id is None:
            raise InvalidParameter("The ROOT domain cannot be renamed")
        parent = ctx.by_id(Domain, dom.parent_id)
        assert parent is not None
        _check_name(ctx, ctx.args.name, parent)
    svc.update_domain(ctx.db, dom, parent, ctx.args.name, ctx.args.networkdomain)
    return {"domain": domain_view(ctx, dom)}


@api(
    "deleteDomain",
    "Deletes a domain; cleanup=true also deletes its accounts and subdomains",
    "success",
    [
        Param("id", "uuid", required=True, description="the domain"),
        Param("cleanup", "boolean", description="delete its accounts, their resources and subdomains"),
    ],
    roles=ADMINS,
    is_async=True,
)
def delete_domain(ctx: Ctx) -> Pending:
    """Refuse (536) a domain with accounts or subdomains unless cleanup=true; queue the deletion."""
    dom = domain_of(ctx, ctx.args.id, "id")
    if dom.parent_id is None:
        raise InvalidParameter("The ROOT domain cannot be deleted")
    if not in_subtree(ctx, dom) or dom.id == ctx.domain.id:
        raise PermissionDenied(f"Account {ctx.account.name} cannot delete domain {dom.name}")
    ids = ctx.subtree_ids(dom)
    accts = ctx.db.exec(select(Account).where(col(Account.domain_id).in_(ids), col(Account.removed) == None)).all()
    if (accts or len(ids) > 1) and not ctx.args.cleanup:
        raise InUse(
            f"Domain {dom.name} still has {len(accts)} account(s) and {len(ids) - 1} subdomain(s); "
            "delete them first or use cleanup=true"
        )
    _no_jobs(ctx, [a.id or 0 for a in accts])
    return Pending("Domain", dom.uuid, {"domain_id": dom.id}, with_id=False)


def _no_jobs(ctx: Ctx, account_ids: list[int]) -> None:
    """Refuse while the accounts have jobs queued or running."""
    if not account_ids:
        return
    job = ctx.db.exec(
        select(AsyncJob).where(
            col(AsyncJob.account_id).in_(account_ids),
            col(AsyncJob.state).in_(ACTIVE_JOBS),
        )
    ).first()
    if job is not None:
        raise InUse(f"The account has a job in progress ({job.command}); try again when it has finished")


# --- accounts ----------------------------------------------------------------------


def account_of(ctx: Ctx, param_id: str = "id") -> Account:
    """The account named by id, or by account+domainid, which the caller administers (users: their own)."""
    a = ctx.args
    acct: Account | None
    dom: Domain | None
    if a.get(param_id):
        acct = ctx.get(Account, a[param_id], param_id)
    elif a.account and a.domainid:
        dom = domain_of(ctx, a.domainid)
        acct = ctx.db.exec(
            select(Account).where(Account.name == a.account, Account.domain_id == dom.id, Account.removed == None)
        ).first()
        if acct is None:
            raise InvalidParameter(f"Unable to find account {a.account} in domain {dom.name} (parameter account)")
    else:
        raise InvalidParameter(f"Parameter {param_id} (or account with domainid) is required")
    dom = ctx.by_id(Domain, acct.domain_id)
    if acct.id != ctx.account.id and not (dom is not None and in_subtree(ctx, dom)):
        raise InvalidParameter(f"Unable to find account {a.get(param_id) or a.account} (parameter {param_id})")
    return acct


def _manage(ctx: Ctx, acct: Account) -> None:
    """Refuse changes to one's own account, to built-in accounts and (domain admins) to root admins."""
    if acct.id == ctx.account.id:
        raise PermissionDenied("An account cannot disable, lock or delete itself")
    if acct.name == "system" or (acct.name == "admin" and acct.accounttype == 1 and acct.domain_id == 1):
        raise PermissionDenied(f"The built-in account {acct.name} cannot be changed this way")
    if not ctx.is_root and acct.accounttype == 1:
        raise PermissionDenied("Domain administrators cannot manage root administrator accounts")


def role_for(ctx: Ctx) -> tuple[Role, int]:
    """The role and account type from roleid or accounttype (0 user, 1 root admin, 2 domain admin)."""
    a = ctx.args
    role: Role | None
    if a.roleid:
        role = ctx.get(Role, a.roleid, "roleid")
        kind = TYPE_OF_ROLE.get(role.type, 0)
    else:
        if a.accounttype is None:
            raise InvalidParameter("Parameter accounttype or roleid is required")
        if a.accounttype not in ROLE_TYPES:
            raise InvalidParameter("Parameter accounttype must be 0 (user), 1 (root admin) or 2 (domain admin)")
        kind = a.accounttype
        role = ctx.db.exec(select(Role).where(Role.type == ROLE_TYPES[kind], Role.is_default == True)).first()
        assert role is not None
    if kind == 1 and not ctx.is_root:
        raise PermissionDenied("Only root administrators may create root administrator accounts")
    return role, kind


@api(
    "createAccount",
    "Creates an account and its first user",
    "account",
    [
        Param("username", required=True, description="the user name"),
        Param("password", required=True, description="the password"),
        Param("email", required=True, description="the email"),
        Param("firstname", required=True, description="first"),
        Param("lastname", required=True, description="last name"),
        Param("accounttype", "integer", description="0 user, 1 root admin, 2 domain admin"),
        Param("roleid", "uuid", description="the role (instead of accounttype)"),
        Param("account", description="the account name (default: the user name)"),
        Param("domainid", "uuid", description="the domain (default: the caller's)"),
        Param("networkdomain", description="network domain"),
        Param("timezone", description="the user's time zone"),
        Param("accountid", description="unused"),
        Param("userid", description="unused"),
        Param("accountdetails", "map", description="unused"),
    ],
    roles=ADMINS,
)
def create_account(ctx: Ctx) -> dict[str, Any]:
    """Create an account in a domain the caller administers, with its first user."""
    from virga.api.commands.users import check_new_user, new_user_fields

    a = ctx.args
    role, kind = role_for(ctx)
    dom = domain_of(ctx, a.domainid) if a.domainid else ctx.domain
    if not in_subtree(ctx, dom):
        raise PermissionDenied(f"Account {ctx.account.name} cannot create accounts in domain {dom.name}")
    name = a.account or a.username
    if (
        ctx.db.exec(
            select(Account).where(Account.name == name, Account.domain_id == dom.id, Account.removed == None)
        ).first()
        is not None
    ):
        raise InvalidParameter(f"Account {name} already exists in domain {dom.name} (parameter account)")
    check_new_user(ctx, dom.id or 0)
    acct = svc.create_account(ctx.db, ctx.user, dom, name, kind, role, a.networkdomain, *new_user_fields(ctx))
    return {"account": account_view(ctx, acct)}


@api(
    "listAccounts",
    "Lists accounts",
    "account",
    [
        Param("id", "uuid", description="the account"),
        Param("name", description="the name"),
        Param("accounttype", "integer", description="the type"),
        Param("state", description="the state"),
        Param("domainid", "uuid", description="the domain"),
        Param("isrecursive", "boolean", description="subdomains"),
        Param("iscleanuprequired", "boolean", description="unused"),
        Param("details", "list", description="unused"),
        Param("roleid", "uuid", description="the role"),
    ],
    paged=True,
)
def list_accounts(ctx: Ctx) -> dict[str, Any]:
    """Users see their account; admins the accounts of their subtree."""
    a = ctx.args
    stmt = select(Account).where(Account.name != "system")
    if ctx.role == "User":
        stmt = stmt.where(Account.id == ctx.account.id)
    elif a.domainid:
        dom = domain_of(ctx, a.domainid)
        ids = ctx.subtree_ids(dom) if a.isrecursive else [dom.id]
        stmt = stmt.where(col(Account.domain_id).in_(ids))
    elif not ctx.is_root:
        stmt = stmt.where(col(Account.domain_id).in_(ctx.subtree_ids(ctx.domain)))
    if a.accounttype is not None:
        stmt = stmt.where(Account.accounttype == a.accounttype)
    if a.state:
        stmt = stmt.where(Account.state == a.state.lower())  # AccountState values are lower case
    if a.roleid:
        stmt = stmt.where(Account.role_id == ctx.get(Role, a.roleid, "roleid").id)
    rows, count = ctx.page(stmt, Account)
    return list_body("account", [account_view(ctx, r) for r in rows], count)


@api(
    "updateAccount",
    "Renames an account or changes its role or network domain",
    "account",
    [
        Param("id", "uuid", description="the account"),
        Param("account", description="the account name"),
        Param("domainid", "uuid", description="its domain"),
        Param("newname", description="the new name"),
        Param("networkdomain", description="network domain"),
        Param("roleid", "uuid", description="a new role"),
        Param("accountdetails", "map", description="unused"),
    ],
    roles=ADMINS,
)
def update_account(ctx: Ctx) -> dict[str, Any]:
    """Change an account's name, network domain or role (same account type)."""
    acct = account_of(ctx)
    a = ctx.args
    newname, role = None, None
    if a.newname and a.newname != acct.name:
        if (
            ctx.db.exec(
                select(Account).where(
                    Account.name == a.newname, Account.domain_id == acct.domain_id, Account.removed == None
                )
            ).first()
            is not None
        ):
            raise InvalidParameter(f"Account {a.newname} already exists in the domain (parameter newname)")
        newname = a.newname
    if a.roleid:
        role = ctx.get(Role, a.roleid, "roleid")
        if TYPE_OF_ROLE.get(role.type, 0) != acct.accounttype:
            raise InvalidParameter(f"Role {role.name} is a {role.type} role; the account type cannot change")
    svc.update_account(ctx.db, acct, newname=newname, networkdomain=a.networkdomain, role=role)
    return {"account": account_view(ctx, acct)}


def _set_state(ctx: Ctx, event: str) -> Account:
    """Enable, disable or lock an account after the permission checks."""
    acct = account_of(ctx)
    _manage(ctx, acct)
    return svc.set_account_state(ctx.db, ctx.user, acct, event)


_ACCT_REF = [
    Param("id", "uuid", description="the account"),
    Param("account", description="the account name"),
    Param("domainid", "uuid", description="its domain"),
]


@api(
    "disableAccount",
    "Disables (lock=false: also stops its VMs) or locks an account",
    "account",
    _ACCT_REF
    + [
        Param("lock", "boolean", required=True, description="true locks (users cannot log in), false disables"),
    ],
    roles=ADMINS,
    is_async=True,
)
def disable_account(ctx: Ctx) -> Pending:
    """Mark the account locked or disabled at once; a disable job stops its running VMs."""
    acct = _set_state(ctx, "lock" if ctx.args.lock else "disable")
    _no_jobs(ctx, [acct.id or 0])
    return Pending("Account", acct.uuid, {"account_id": acct.id, "stop": not ctx.args.lock})


@api("enableAccount", "Enables a disabled or locked account", "account", _ACCT_REF, roles=ADMINS)
def enable_account(ctx: Ctx) -> dict[str, Any]:
    """Back to enabled."""
    return {"account": account_view(ctx, _set_state(ctx, "enable"))}


@api("lockAccount", "Locks an account: its users cannot log in", "account", _ACCT_REF, roles=ADMINS)
def lock_account(ctx: Ctx) -> dict[str, Any]:
    """Mark the account locked."""
    return {"account": account_view(ctx, _set_state(ctx, "lock"))}


@api(
    "deleteAccount",
    "Deletes an account with its VMs, volumes, snapshots, networks and users",
    "success",
    [
        Param("id", "uuid", required=True, description="the account"),
    ],
    roles=ADMINS,
    is_async=True,
)
def delete_account(ctx: Ctx) -> Pending:
    """Disable the account at once and queue the removal of everything it owns."""
    acct = account_of(ctx)
    _manage(ctx, acct)
    _no_jobs(ctx, [acct.id or 0])
    svc.start_deletion(ctx.db, acct)
    return Pending("Account", acct.uuid, {"account_id": acct.id}, with_id=False)
