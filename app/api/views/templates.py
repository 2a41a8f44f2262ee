"""The template (and iso) and templatepermission response objects."""

from __future__ import annotations

from typing import Any

from virga.api.registry import USER
from virga.api.response import clean
from virga.api.views.common import owner, ref
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.models import Account, Domain, OsType, Template, Zone

_TEMPLATE_FIELDS = (
    "id name displaytext ispublic isfeatured isextractable isready passwordenabled format crossZones ostypeid "
    "ostypename zoneid zonename status size physicalsize templatetype hypervisor checksum bootable url details "
    "created removed requireshvm sshkeyenabled isdynamicallyscalable accountid " + "account domainid domain domainpath"
)
FIELDS.update(
    {"template": _TEMPLATE_FIELDS, "iso": _TEMPLATE_FIELDS, "templatepermission": "id ispublic domainid account"}
)


def template_view(ctx: Ctx, t: Template, zone: Zone | None = None) -> dict[str, Any]:
    """A template (or iso) response object; zone names the zone a cross-zone template is listed for."""
    os = ctx.by_id(OsType, t.ostype_id)
    acct = ctx.by_id(Account, t.account_id)
    zone_ref = (
        ref(ctx, Zone, t.zone_id, "zone")
        if t.zone_id
        else ({"zoneid": zone.uuid, "zonename": zone.name} if zone else {})
    )
    return clean(
        {
            "id": t.uuid,
            "name": t.name,
            "displaytext": t.displaytext,
            "ispublic": t.ispublic,
            "isfeatured": t.isfeatured,
            "isextractable": t.isextractable,
            "isready": t.isready,
            "passwordenabled": t.passwordenabled,
            "format": t.format,
            "crossZones": t.zone_id is None,
            "ostypeid": os.uuid if os else None,
            "ostypename": os.description if os else None,
            **zone_ref,
            "status": t.status or None,
            "size": t.size or None,
            "physicalsize": t.physicalsize or None,
            "templatetype": t.templatetype,
            "hypervisor": t.hypervisor or None,
            "checksum": t.checksum or None,
            "bootable": t.bootable if t.is_iso else None,
            "url": t.url if ctx.role != USER else None,
            "details": dict(t.details or {}) or None,
            "created": t.created,
            "requireshvm": True,
            "sshkeyenabled": bool((t.details or {}).get("sshkeyenabled")),
            "isdynamicallyscalable": False,
            "accountid": acct.uuid if acct else None,
            **owner(ctx, t),
        }
    )


def permission_view(ctx: Ctx, t: Template, names: list[str]) -> dict[str, Any]:
    """The templatepermission object of a template: who may launch it besides its owner."""
    dom = ctx.by_id(Domain, t.domain_id)
    return {"id": t.uuid, "ispublic": t.ispublic, "domainid": dom.uuid if dom else None, "account": sorted(names)}


def template_views(ctx: Ctx, rows: list[Template]) -> list[dict[str, Any]]:
    """Template (or iso) response objects of job results."""
    return [template_view(ctx, t) for t in rows]


RENDERERS = {Template: ("template", template_views)}
