"""Templates and ISOs: register (with a download job), list with CloudStack's filters."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from sqlalchemy import or_
from sqlmodel import col, select
from virga.api.registry import ADMIN, DOMAIN_ADMIN, USER, Param, api
from virga.api.response import list_body
from virga.api.validators import one_of
from virga.api.views.common import preload_owners
from virga.api.views.templates import template_view
from virga.context import Ctx
from virga.drivers.base import DISK_FORMATS
from virga.errors import InvalidParameter, PermissionDenied
from virga.models import OsType, Template, Zone
from virga.models.offerings import LaunchPermission
from virga.services import limits, templates, transfers

FORMATS = DISK_FORMATS  # every format a template may be registered in; each driver narrows it (disk_formats)
FILTERS = ("featured", "self", "selfexecutable", "sharedexecutable", "executable", "community", "all")


def find_template(ctx: Ctx, uuid: str | None, param: str = "id", *, iso: bool | None = None) -> Template:
    """A template or ISO the caller may use (own, public, shared or in an admin's reach), else 431."""
    if not uuid:
        raise InvalidParameter(f"Missing parameter {param}")
    t = ctx.db.exec(select(Template).where(Template.uuid == uuid, Template.removed == None)).first()
    if t is None or (iso is not None and t.is_iso != iso) or not _usable(ctx, t):
        kind = "ISO" if iso else "template"
        raise InvalidParameter(f"Unable to find {kind} with id {uuid} (parameter {param})")
    return t


def _usable(ctx: Ctx, t: Template) -> bool:
    """Whether the caller may see a template."""
    if t.ispublic or ctx.can_see(t):
        return True
    return (
        ctx.db.exec(
            select(LaunchPermission).where(
                LaunchPermission.template_id == t.id,
                LaunchPermission.account_id == ctx.account.id,
                LaunchPermission.removed == None,
            )
        ).first()
        is not None
    )


def _zone(ctx: Ctx) -> Zone | None:
    """The zone of a registration: a zone UUID, or -1 (or absent with zoneids) for every zone."""
    raw = ctx.args.zoneid
    if raw in (None, "", "-1"):
        if raw is None and not ctx.args.zoneids:
            raise InvalidParameter("Missing parameter zoneid (a zone id, or -1 for every zone)")
        zones = ctx.args.zoneids or []
        return ctx.get(Zone, zones[0], "zoneids") if len(zones) == 1 else None
    return ctx.get(Zone, Param("zoneid", "uuid").parse(raw), "zoneid")


def _check_url(ctx: Ctx, url: str, zone_backend: transfers.TransferBackend) -> None:
    """http(s) URLs everywhere; a transfer backend's own scheme (simulator://) only in zones of that backend."""
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme in ("http", "https") and parsed.hostname:
        return
    owner = transfers.url_backend(url)
    if owner is not None and (parsed.netloc or parsed.path.strip("/")):
        if owner is not zone_backend:
            raise InvalidParameter(f"Parameter url: {url!r} is a {scheme} URL but the zone is not a {scheme} zone")
        return
    raise InvalidParameter(f"Parameter url: {url!r} is not an http:// or https:// URL")


def _hypervisor(value: str | None, fmt: str, is_iso: bool) -> str:
    """The canonical hypervisor name, checked against the format."""
    if is_iso:
        return ""
    from virga.drivers.registry import driver_class, hypervisors

    if not value or value.lower() not in hypervisors():
        raise InvalidParameter(f"Parameter hypervisor: {value!r} is not one of {', '.join(hypervisors())}")
    drv = driver_class(value)
    name, formats = drv.hypervisor, drv.disk_formats  # its canonical name; what its guests run from
    if fmt not in formats:
        raise InvalidParameter(f"Parameter format: {fmt} images cannot run on {name} (use {', '.join(formats)})")
    return name


def _ostype(ctx: Ctx) -> OsType | None:
    """The OS type named by ostypeid, or Other (64-bit)."""
    if ctx.args.ostypeid:
        return ctx.get(OsType, ctx.args.ostypeid, "ostypeid")
    return ctx.db.exec(select(OsType).where(OsType.description == "Other (64-bit)")).first()


def new_template(ctx: Ctx, is_iso: bool, url: str, status: str) -> Template:
    """Validate a registration's parameters and build the (unsaved) template row."""
    a = ctx.args
    account, domain = ctx.owner()
    fmt = "ISO" if is_iso else (one_of(a.format, FORMATS, "format") or "")
    zone = _zone(ctx)
    hypervisor = _hypervisor(a.hypervisor, fmt, is_iso)
    if a.isfeatured and ctx.role == USER:
        raise PermissionDenied("Only administrators may register featured templates (parameter isfeatured)")
    os = _ostype(ctx)
    details = {k: v for d in (a.details or []) for k, v in d.items()}
    limits.check(ctx.db, account, 4, 1)
    return Template(
        name=a.name,
        displaytext=a.displaytext or a.name,
        format=fmt,
        hypervisor=hypervisor,
        ostype_id=os.id if os else None,
        zone_id=zone.id if zone else None,
        url=url,
        checksum=a.checksum or "",
        ispublic=bool(a.ispublic),
        isfeatured=bool(a.isfeatured),
        isextractable=bool(a.isextractable),
        passwordenabled=bool(a.passwordenabled),
        bootable=a.bootable if a.bootable is not None else True,
        is_iso=is_iso,
        account_id=account.id or 0,
        domain_id=domain.id or 0,
        status=status,
        details=details,
        templatetype="USER",
    )


def _register(ctx: Ctx, is_iso: bool) -> Template:
    """Validate a registration, record the template and queue its download."""
    t = new_template(ctx, is_iso, ctx.args.url, "Download Pending")
    _check_url(ctx, ctx.args.url, transfers.for_template(ctx.db, t, by_url=False))
    return templates.register(ctx, t)


_REGISTER_COMMON = [
    Param("name", required=True, description="the name"),
    Param("displaytext", description="the display text"),
    Param("url", required=True, description="http(s) URL of the image (simulator://name in simulator zones)"),
    Param("zoneid", description="the zone, or -1 for every zone"),
    Param("zoneids", "uuidlist", description="zones (one zone, or several meaning every zone)"),
    Param("ostypeid", "uuid", description="the guest OS type"),
    Param("checksum", description="{md5}hex, ..."),
    Param("ispublic", "boolean", description="usable by every account"),
    Param("isfeatured", "boolean", description="featured (admins)"),
    Param("isextractable", "boolean", description="may be downloaded back"),
    Param("account", description="the owner account (admins)"),
    Param("domainid", "uuid", description="its domain"),
    Param("isdynamicallyscalable", "boolean", description="unused"),
    Param("directdownload", "boolean", description="unused"),
]


@api(
    "registerTemplate",
    "Registers a template and downloads it to secondary storage",
    "template",
    _REGISTER_COMMON
    + [
        Param("format", required=True, description="QCOW2, RAW, VHD, VHDX, OVA or ISO"),
        Param("hypervisor", required=True, description="the hypervisor the template runs on"),
        Param("passwordenabled", "boolean", description="the template runs the password service"),
        Param("requireshvm", "boolean", description="unused"),
        Param("sshkeyenabled", "boolean", description="unused"),
        Param("bits", "integer", description="unused"),
        Param("templatetag", description="unused"),
        Param("details", "map", description="template details"),
        Param("deployasis", "boolean", description="unused"),
    ],
)
def register_template(ctx: Ctx) -> dict[str, Any]:
    """Register a template; its download runs as a job and advances its status."""
    t = _register(ctx, is_iso=False)
    return {"count": 1, "template": [template_view(ctx, t)]}


@api(
    "registerIso",
    "Registers an ISO and downloads it to secondary storage",
    "iso",
    _REGISTER_COMMON
    + [
        Param("bootable", "boolean", description="whether VMs can boot from the ISO"),
        Param("format", description="ISO"),
        Param("hypervisor", description="unused"),
    ],
)
def register_iso(ctx: Ctx) -> dict[str, Any]:
    """Register an ISO; its download runs as a job."""
    if ctx.args.format and ctx.args.format.upper() != "ISO":
        raise InvalidParameter("Parameter format must be ISO for registerIso")
    t = _register(ctx, is_iso=True)
    return {"count": 1, "iso": [template_view(ctx, t)]}


def _filtered(ctx: Ctx, stmt: Any, flt: str) -> Any:
    """Apply a templatefilter to a select of templates."""
    mine = col(Template.account_id) == ctx.account.id
    shared = col(Template.id).in_(
        select(LaunchPermission.template_id).where(
            LaunchPermission.account_id == ctx.account.id, LaunchPermission.removed == None
        )
    )
    if flt == "featured":
        return stmt.where(Template.isfeatured == True, Template.ispublic == True)
    if flt == "community":
        return stmt.where(Template.ispublic == True, Template.isfeatured == False)
    if flt in ("self", "selfexecutable"):
        stmt = ctx.scope(stmt, Template) if ctx.role != USER else stmt.where(mine)
        return stmt.where(Template.isready == True) if flt == "selfexecutable" else stmt
    if flt == "sharedexecutable":
        return stmt.where(shared, Template.isready == True)
    if flt == "executable":
        return stmt.where(or_(mine, col(Template.ispublic) == True, shared), col(Template.isready) == True)
    if ctx.role == ADMIN:
        return ctx.scope(stmt, Template) if ctx.args.account or ctx.args.domainid else stmt
    if ctx.role == DOMAIN_ADMIN:
        return stmt.where(or_(col(Template.domain_id).in_(ctx.subtree_ids(ctx.domain)), col(Template.ispublic) == True))
    raise PermissionDenied("Only administrators may use the filter all; use executable or self")


def _list(ctx: Ctx, is_iso: bool, flt: str) -> tuple[list[Template], int, Zone | None]:
    """The page of templates (or ISOs) a filter selects."""
    a = ctx.args
    stmt = _filtered(ctx, select(Template).where(Template.is_iso == is_iso), flt)
    zone = ctx.get(Zone, a.zoneid, "zoneid") if a.zoneid else None
    if zone is not None:
        stmt = stmt.where(or_(col(Template.zone_id) == zone.id, col(Template.zone_id) == None))
    if a.hypervisor:
        stmt = stmt.where(col(Template.hypervisor).ilike(a.hypervisor))
    if a.isready is not None:
        stmt = stmt.where(Template.isready == a.isready)
    if a.bootable is not None:
        stmt = stmt.where(Template.bootable == a.bootable)
    if a.ispublic is not None:
        stmt = stmt.where(Template.ispublic == a.ispublic)
    if a.templatetype:
        stmt = stmt.where(Template.templatetype == a.templatetype)
    rows, count = ctx.page(stmt, Template, keyword=("name", "displaytext"), resourcetype="Template")
    preload_owners(ctx, rows)
    ctx.preload(OsType, {t.ostype_id for t in rows})
    ctx.preload(Zone, {t.zone_id for t in rows})
    return rows, count, zone


_LIST_COMMON = [
    Param("id", "uuid", description="the template"),
    Param("ids", "uuidlist", description="several templates"),
    Param("name", description="the name"),
    Param("zoneid", "uuid", description="the zone"),
    Param("hypervisor", description="the hypervisor"),
    Param("account", description="the account"),
    Param("domainid", "uuid", description="the domain"),
    Param("isrecursive", "boolean", description="subdomains"),
    Param("tags", "map", description="tags"),
    Param("showremoved", "boolean", description="unused"),
    Param("details", "list", description="unused"),
    Param("showunique", "boolean", description="unused"),
    Param("ispublic", "boolean", description="public ones only"),
    Param("isready", "boolean", description="ready ones only"),
]


@api(
    "listTemplates",
    "Lists templates",
    "template",
    _LIST_COMMON
    + [
        Param(
            "templatefilter",
            required=True,
            description="featured, self, selfexecutable, sharedexecutable, executable, community or all",
        ),
        Param("templatetype", description="USER, BUILTIN, SYSTEM..."),
        Param("bootable", "boolean", description="unused"),
    ],
    paged=True,
)
def list_templates(ctx: Ctx) -> dict[str, Any]:
    """List templates by filter."""
    flt = one_of(ctx.args.templatefilter, FILTERS, "templatefilter") or "all"
    rows, count, zone = _list(ctx, False, flt)
    return list_body("template", [template_view(ctx, t, zone) for t in rows], count)


@api(
    "listIsos",
    "Lists ISOs",
    "iso",
    _LIST_COMMON
    + [
        Param(
            "isofilter",
            description="featured, self, selfexecutable (default), sharedexecutable, executable, community or all",
        ),
        Param("bootable", "boolean", description="bootable ones only"),
        Param("templatetype", description="unused"),
    ],
    paged=True,
)
def list_isos(ctx: Ctx) -> dict[str, Any]:
    """List ISOs by filter."""
    flt = one_of(ctx.args.isofilter or "selfexecutable", FILTERS, "isofilter") or "selfexecutable"
    rows, count, zone = _list(ctx, True, flt)
    return list_body("iso", [template_view(ctx, t, zone) for t in rows], count)
