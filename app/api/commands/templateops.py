"""Templates and ISOs: update, delete and launch permissions."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from virga.api.commands.templates import FORMATS, find_template
from virga.api.registry import USER, Param, api
from virga.api.views.templates import permission_view, template_view
from virga.context import Ctx
from virga.errors import InvalidParameter, PermissionDenied
from virga.jobs.pending import Pending
from virga.models import Account, OsType, Template
from virga.services import templates


def _owned(ctx: Ctx, iso: bool) -> Template:
    """The template named by id, which the caller must own (or administer)."""
    t = find_template(ctx, ctx.args.id, iso=iso)
    if not ctx.can_see(t):
        raise PermissionDenied(f"Account {ctx.account.name} does not own {'ISO' if iso else 'template'} {t.name}")
    return t


def _update(ctx: Ctx, iso: bool) -> Template:
    """Validate updateTemplate/updateIso's changes and apply them."""
    a = ctx.args
    t = _owned(ctx, iso)
    values: dict[str, Any] = {}
    if a.format and not iso:
        if a.format.upper() not in FORMATS:
            raise InvalidParameter(f"Parameter format must be one of {', '.join(FORMATS)}")
        values["format"] = a.format.upper()
    if a.ostypeid:
        values["ostype_id"] = ctx.get(OsType, a.ostypeid, "ostypeid").id
    if a.templatetype:
        if ctx.role == USER:
            raise PermissionDenied("Only administrators may change templatetype")
        values["templatetype"] = a.templatetype
    for key in ("name", "displaytext", "passwordenabled", "bootable"):
        if a.get(key) is not None:
            values[key] = a[key]
    details = {} if a.cleanupdetails else dict(t.details or {})
    if a.cleanupdetails or a.details:
        values["details"] = {**details, **{k: v for d in (a.details or []) for k, v in d.items()}}
    return templates.change(ctx, t, values)


_UPDATE = [
    Param("id", "uuid", required=True, description="the template"),
    Param("name", description="new name"),
    Param("displaytext", description="new display text"),
    Param("ostypeid", "uuid", description="new OS type"),
    Param("passwordenabled", "boolean", description="runs the password service"),
    Param("bootable", "boolean", description="bootable (ISOs)"),
    Param("format", description="new format"),
    Param("details", "map", description="details to add"),
    Param("cleanupdetails", "boolean", description="drop every detail"),
    Param("templatetype", description="USER, BUILTIN... (admins)"),
    Param("sortkey", "integer", description="unused"),
    Param("isdynamicallyscalable", "boolean", description="unused"),
    Param("requireshvm", "boolean", description="unused"),
    Param("sshkeyenabled", "boolean", description="unused"),
    Param("isrouting", "boolean", description="unused"),
]


@api("updateTemplate", "Updates a template", "template", _UPDATE)
def update_template(ctx: Ctx) -> dict[str, Any]:
    """Update a template's attributes."""
    return {"template": template_view(ctx, _update(ctx, False))}


@api("updateIso", "Updates an ISO", "iso", _UPDATE)
def update_iso(ctx: Ctx) -> dict[str, Any]:
    """Update an ISO's attributes."""
    return {"iso": template_view(ctx, _update(ctx, True))}


def _delete(ctx: Ctx, iso: bool) -> Pending:
    """Mark a template removed; VMs created from it keep their volumes and keep working."""
    return templates.delete(ctx, _owned(ctx, iso))


_DELETE = [
    Param("id", "uuid", required=True, description="the template"),
    Param("zoneid", "uuid", description="unused: templates are deleted from every zone"),
    Param("forced", "boolean", description="unused: VMs keep working"),
]


@api("deleteTemplate", "Deletes a template", "success", _DELETE, is_async=True)
def delete_template(ctx: Ctx) -> Pending:
    """Delete a template."""
    return _delete(ctx, False)


@api("deleteIso", "Deletes an ISO", "success", _DELETE, is_async=True)
def delete_iso(ctx: Ctx) -> Pending:
    """Delete an ISO."""
    return _delete(ctx, True)


def _accounts(ctx: Ctx, t: Template, names: list[str]) -> list[Account]:
    """The accounts named in a permission change (in the template's domain tree)."""
    out = []
    for name in names:
        acct = ctx.db.exec(select(Account).where(Account.name == name, Account.removed == None)).first()
        if acct is None:
            raise InvalidParameter(f"Unable to find account {name} (parameter accounts)")
        out.append(acct)
    return out


def _permit(ctx: Ctx, iso: bool) -> dict[str, Any]:
    """Validate and apply updateTemplatePermissions/updateIsoPermissions."""
    a = ctx.args
    t = _owned(ctx, iso)
    if a.isfeatured is not None and ctx.role == USER:
        raise PermissionDenied("Only administrators may feature templates (parameter isfeatured)")
    flags = {key: a[key] for key in ("ispublic", "isfeatured", "isextractable") if a.get(key) is not None}
    op = (a.op or ("add" if a.accounts else "")).lower()
    if op not in ("", "add", "remove", "reset"):
        raise InvalidParameter("Parameter op must be add, remove or reset")
    if op in ("add", "remove") and not a.accounts:
        raise InvalidParameter(f"Parameter accounts is required with op={op}")
    templates.set_permissions(ctx, t, op, _accounts(ctx, t, a.accounts or []), flags)
    return {"success": True}


_PERMS = [
    Param("id", "uuid", required=True, description="the template"),
    Param("accounts", "list", description="account names to add or remove"),
    Param("op", description="add, remove or reset"),
    Param("ispublic", "boolean", description="public"),
    Param("isfeatured", "boolean", description="featured (admins)"),
    Param("isextractable", "boolean", description="extractable"),
    Param("projectids", "uuidlist", description="unused"),
]


@api("updateTemplatePermissions", "Updates who may use a template", "success", _PERMS)
def update_template_permissions(ctx: Ctx) -> dict[str, Any]:
    """Share a template with accounts, or make it public/featured."""
    return _permit(ctx, False)


@api("updateIsoPermissions", "Updates who may use an ISO", "success", _PERMS)
def update_iso_permissions(ctx: Ctx) -> dict[str, Any]:
    """Share an ISO with accounts, or make it public/featured."""
    return _permit(ctx, True)


def _permissions(ctx: Ctx, iso: bool) -> dict[str, Any]:
    """The templatepermission object of a template."""
    t = _owned(ctx, iso)
    ids = [p.account_id for p in templates.permissions_of(ctx.db, t)]
    names = [acct.name for acct in ctx.db.exec(select(Account).where(col(Account.id).in_(ids)))]
    return {"templatepermission": permission_view(ctx, t, names)}


@api(
    "listTemplatePermissions",
    "Lists who may use a template",
    "templatepermission",
    [Param("id", "uuid", required=True, description="the template")],
)
def list_template_permissions(ctx: Ctx) -> dict[str, Any]:
    """List a template's launch permissions."""
    return _permissions(ctx, False)


@api(
    "listIsoPermissions",
    "Lists who may use an ISO",
    "templatepermission",
    [Param("id", "uuid", required=True, description="the ISO")],
)
def list_iso_permissions(ctx: Ctx) -> dict[str, Any]:
    """List an ISO's launch permissions."""
    return _permissions(ctx, True)
