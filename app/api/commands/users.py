"""Users, their API keys, and roles. Users manage themselves; admins the users of their subtree."""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import col, select
from virga.api import auth
from virga.api.commands.accounts import domain_of, in_subtree
from virga.api.registry import ADMINS, ROOT, Param, api
from virga.api.response import clean, list_body
from virga.api.views.accounts import role_view, user_view
from virga.context import Ctx
from virga.errors import InUse, InvalidParameter, PermissionDenied
from virga.models import Account, Domain, Role, User
from virga.services import users as svc

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
USER_ID = [Param("id", "uuid", required=True, description="the user")]


def _check_user_fields(ctx: Ctx) -> None:
    """Validate email and password when given."""
    if ctx.args.email is not None and not EMAIL.match(ctx.args.email):
        raise InvalidParameter(f"Parameter email: {ctx.args.email!r} is not an email address")
    if ctx.args.password is not None and len(ctx.args.password) < 1:
        raise InvalidParameter("Parameter password may not be empty")


def check_new_user(ctx: Ctx, domain_id: int) -> None:
    """Validate a new user of a domain's account: email, password, a user name unique in the domain."""
    a = ctx.args
    _check_user_fields(ctx)
    dom = ctx.by_id(Domain, domain_id)
    clash = ctx.db.exec(
        select(User)
        .join(Account, col(Account.id) == User.account_id)
        .where(User.username == a.username, Account.domain_id == domain_id, User.removed == None)
    ).first()
    if clash is not None:
        raise InvalidParameter(
            f"User {a.username} already exists in domain {dom.name if dom else ''} (parameter username)"
        )


def new_user_fields(ctx: Ctx) -> tuple[str, str, dict[str, Any]]:
    """A new user's name, password hash and details (firstname, lastname, email, timezone) from the parameters."""
    a = ctx.args
    return (
        a.username,
        auth.hash_password(a.password),
        {k: a.get(k) for k in ("firstname", "lastname", "email", "timezone")},
    )


def _admin_of(ctx: Ctx, acct: Account) -> bool:
    """Whether the caller administers an account (root: all; domain admins: subtree, not root admins)."""
    dom = ctx.by_id(Domain, acct.domain_id)
    if ctx.is_root:
        return True
    return dom is not None and in_subtree(ctx, dom) and acct.accounttype != 1


def user_of(ctx: Ctx, uuid: str | None, param: str = "id", *, change: bool = True) -> User:
    """A user the caller may see (own account) or change (themselves, or as an admin above them)."""
    user = ctx.get(User, uuid, param)
    acct = ctx.by_id(Account, user.account_id)
    assert acct is not None
    visible = user.id == ctx.user.id or _admin_of(ctx, acct) or (not change and acct.id == ctx.account.id)
    if not visible:
        raise InvalidParameter(f"Unable to find User with id {uuid} (parameter {param})")
    return user


@api(
    "createUser",
    "Creates a user in an account",
    "user",
    [
        Param("username", required=True, description="the user name"),
        Param("password", required=True, description="the password"),
        Param("email", required=True, description="the email"),
        Param("firstname", required=True, description="first"),
        Param("lastname", required=True, description="last name"),
        Param("account", required=True, description="the account"),
        Param("domainid", "uuid", description="its domain"),
        Param("timezone", description="time zone"),
        Param("userid", description="unused"),
    ],
    roles=ADMINS,
)
def create_user(ctx: Ctx) -> dict[str, Any]:
    """Add a user to an account the caller administers."""
    dom = domain_of(ctx, ctx.args.domainid) if ctx.args.domainid else ctx.domain
    acct = ctx.db.exec(
        select(Account).where(Account.name == ctx.args.account, Account.domain_id == dom.id, Account.removed == None)
    ).first()
    if acct is None or not _admin_of(ctx, acct):
        raise InvalidParameter(f"Unable to find account {ctx.args.account} in domain {dom.name} (parameter account)")
    check_new_user(ctx, acct.domain_id)
    name, password_hash, details = new_user_fields(ctx)
    user = svc.create_user(ctx.db, ctx.user, acct, name, password_hash, **details)
    return {"user": user_view(ctx, user, acct)}


@api(
    "listUsers",
    "Lists users",
    "user",
    [
        Param("id", "uuid", description="the user"),
        Param("username", description="the user name"),
        Param("account", description="the account"),
        Param("domainid", "uuid", description="the domain"),
        Param("accounttype", "integer", description="the account type"),
        Param("state", description="the state"),
        Param("isrecursive", "boolean", description="subdomains"),
        Param("usersource", description="unused"),
    ],
    paged=True,
)
def list_users(ctx: Ctx) -> dict[str, Any]:
    """Users see their account's users; admins those of their subtree."""
    a = ctx.args
    stmt = select(User).join(Account, col(Account.id) == User.account_id).where(col(Account.name) != "system")
    if ctx.role == "User":
        stmt = stmt.where(User.account_id == ctx.account.id)
    else:
        dom = domain_of(ctx, a.domainid) if a.domainid else ctx.domain
        ids = ctx.subtree_ids(dom) if (a.isrecursive or not a.domainid or a.listall) else [dom.id]
        stmt = stmt.where(col(Account.domain_id).in_(ids))
        if not ctx.is_root:
            stmt = stmt.where((Account.accounttype != 1) | (Account.id == ctx.account.id))
    if a.account:
        stmt = stmt.where(Account.name == a.account)
    if a.username:
        stmt = stmt.where(User.username == a.username)
    if a.accounttype is not None:
        stmt = stmt.where(Account.accounttype == a.accounttype)
    if a.state:
        stmt = stmt.where(User.state == a.state.lower())
    rows, count = ctx.page(stmt, User, keyword=("username", "firstname", "lastname", "email"))
    return list_body("user", [user_view(ctx, u) for u in rows], count)


@api(
    "getUser",
    "Finds a user by API key",
    "user",
    [
        Param("userapikey", required=True, description="the API key"),
    ],
    roles=ADMINS,
)
def get_user(ctx: Ctx) -> dict[str, Any]:
    """The user holding an API key, if the caller administers it."""
    user = ctx.db.exec(select(User).where(User.apikey == ctx.args.userapikey, User.removed == None)).first()
    acct = ctx.by_id(Account, user.account_id) if user else None
    if user is None or acct is None or not (_admin_of(ctx, acct) or user.id == ctx.user.id):
        raise InvalidParameter("Unable to find a user with that API key (parameter userapikey)")
    return {"user": user_view(ctx, user, acct)}


@api(
    "updateUser",
    "Updates a user (names, email, password, time zone)",
    "user",
    USER_ID
    + [
        Param("username", description="new user name"),
        Param("firstname", description="first name"),
        Param("lastname", description="last name"),
        Param("email", description="email"),
        Param("password", description="new password"),
        Param("currentpassword", description="the current password"),
        Param("timezone", description="time zone"),
        Param("userapikey", description="unused"),
        Param("usersecretkey", description="unused"),
    ],
)
def update_user(ctx: Ctx) -> dict[str, Any]:
    """Change a user's details; users changing their own password give currentpassword."""
    user = user_of(ctx, ctx.args.id)
    a = ctx.args
    _check_user_fields(ctx)
    if a.password is not None and (
        user.id == ctx.user.id
        and ctx.role == "User"
        and not (a.currentpassword and auth.check_password(a.currentpassword, user.password_hash))
    ):
        raise InvalidParameter("Parameter currentpassword is missing or wrong")
    password_hash = auth.hash_password(a.password) if a.password is not None else None
    svc.update_user(ctx.db, user, {k: a.get(k) for k in svc.USER_FIELDS}, password_hash)
    return {"user": user_view(ctx, user)}


def _other_user(ctx: Ctx) -> User:
    """A user the caller administers and who is not the caller."""
    user = user_of(ctx, ctx.args.id)
    if user.id == ctx.user.id:
        raise PermissionDenied("A user cannot disable or delete themselves")
    if user.username in ("admin", "system") and user.account_id in (1, 2):
        raise PermissionDenied(f"The built-in user {user.username} cannot be changed this way")
    return user


@api("deleteUser", "Deletes a user", "success", USER_ID, roles=ADMINS)
def delete_user(ctx: Ctx) -> dict[str, Any]:
    """Remove a user (its keys stop working); the last user of an account stays."""
    user = _other_user(ctx)
    others = ctx.db.exec(
        select(User).where(User.account_id == user.account_id, User.id != user.id, User.removed == None)
    ).first()
    if others is None:
        raise InUse(f"User {user.username} is the last user of its account; delete the account instead")
    svc.delete_user(ctx.db, user)
    return {"success": True}


@api("disableUser", "Disables a user", "user", USER_ID, roles=ADMINS, is_async=False)
def disable_user(ctx: Ctx) -> dict[str, Any]:
    """The user can no longer log in or call the API."""
    return {"user": user_view(ctx, svc.set_user_state(ctx.db, _other_user(ctx), "disable"))}


@api("enableUser", "Enables a user", "user", USER_ID, roles=ADMINS)
def enable_user(ctx: Ctx) -> dict[str, Any]:
    """Back to enabled."""
    return {"user": user_view(ctx, svc.set_user_state(ctx.db, _other_user(ctx), "enable"))}


@api("registerUserKeys", "Generates a new API key and secret key for a user", "userkeys", USER_ID)
def register_keys(ctx: Ctx) -> dict[str, Any]:
    """New keys for oneself, or for a user the caller administers; the old keys stop working."""
    user = svc.set_keys(ctx.db, user_of(ctx, ctx.args.id), *auth.new_keys())
    return {"userkeys": {"apikey": user.apikey, "secretkey": user.secretkey}}


@api("getUserKeys", "Returns a user's API key and secret key", "userkeys", USER_ID)
def get_keys(ctx: Ctx) -> dict[str, Any]:
    """The keys of oneself or of a user the caller administers."""
    user = user_of(ctx, ctx.args.id)
    return {"userkeys": clean({"apikey": user.apikey, "secretkey": user.secretkey})}


# --- roles ---------------------------------------------------------------------------
# Roles carry a type (Admin, DomainAdmin, User) that decides what an account may do. Rules given to
# createRole/updateRole are recorded with the role but not enforced beyond that type.


@api(
    "listRoles",
    "Lists roles",
    "role",
    [
        Param("id", "uuid", description="the role"),
        Param("name", description="the name"),
        Param("type", description="Admin, DomainAdmin, ResourceAdmin or User"),
    ],
    paged=True,
)
def list_roles(ctx: Ctx) -> dict[str, Any]:
    """Every role (users and domain admins see the roles at or below their own)."""
    stmt = select(Role)
    if ctx.args.type:
        stmt = stmt.where(Role.type == ctx.args.type)
    if not ctx.is_root:
        allowed = ["User"] if ctx.role == "User" else ["User", "DomainAdmin"]
        stmt = stmt.where(col(Role.type).in_(allowed))
    rows, count = ctx.page(stmt, Role)
    return list_body("role", [role_view(ctx, r) for r in rows], count)


def _role_type(value: str) -> str:
    """A valid role type."""
    if value not in ("Admin", "DomainAdmin", "ResourceAdmin", "User"):
        raise InvalidParameter("Parameter type must be Admin, DomainAdmin, ResourceAdmin or User")
    return value


@api(
    "createRole",
    "Creates a role",
    "role",
    [
        Param("name", required=True, description="the name"),
        Param("type", description="the role type"),
        Param("description", description="a description"),
        Param("roleid", "uuid", description="copy this role"),
        Param("rules", "map", description="rules (recorded, not enforced beyond the role type)"),
    ],
    roles=ROOT,
)
def create_role(ctx: Ctx) -> dict[str, Any]:
    """Add a role of a type (or copied from another role)."""
    base = ctx.opt(Role, "roleid")
    kind = _role_type(ctx.args.type) if ctx.args.type else (base.type if base else "")
    if not kind:
        raise InvalidParameter("Parameter type (or roleid) is required")
    if ctx.db.exec(select(Role).where(Role.name == ctx.args.name, Role.removed == None)).first() is not None:
        raise InvalidParameter(f"Role {ctx.args.name} already exists (parameter name)")
    rules = list(ctx.args.rules or (base.rules if base else []))
    role = svc.create_role(ctx.db, ctx.args.name, kind, ctx.args.description or "", rules)
    return {"role": role_view(ctx, role)}


@api(
    "updateRole",
    "Updates a role",
    "role",
    [
        Param("id", "uuid", required=True, description="the role"),
        Param("name", description="the name"),
        Param("type", description="the role type"),
        Param("description", description="a description"),
    ],
    roles=ROOT,
)
def update_role(ctx: Ctx) -> dict[str, Any]:
    """Rename or describe a role; default roles keep their type."""
    role = ctx.get(Role, ctx.args.id)
    kind = None
    if ctx.args.type and ctx.args.type != role.type:
        if role.is_default:
            raise InvalidParameter(f"The type of the default role {role.name} cannot change")
        kind = _role_type(ctx.args.type)
    svc.update_role(ctx.db, role, kind=kind, name=ctx.args.name, description=ctx.args.description)
    return {"role": role_view(ctx, role)}


@api(
    "deleteRole", "Deletes a role", "success", [Param("id", "uuid", required=True, description="the role")], roles=ROOT
)
def delete_role(ctx: Ctx) -> dict[str, Any]:
    """Remove an unused, non-default role."""
    role = ctx.get(Role, ctx.args.id)
    if role.is_default:
        raise InvalidParameter(f"The default role {role.name} cannot be deleted")
    if ctx.db.exec(select(Account).where(Account.role_id == role.id, Account.removed == None)).first():
        raise InUse(f"Role {role.name} is used by accounts")
    svc.delete_role(ctx.db, role)
    return {"success": True}


__all__ = ["check_new_user", "new_user_fields"]
