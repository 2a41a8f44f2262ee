"""Template uploads (getUploadParamsForTemplate) and signed download URLs (extractTemplate)."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from virga.api.commands.templates import find_template, new_template
from virga.api.dispatch import Pending
from virga.api.registry import Param, api
from virga.api.response import clean
from virga.api.views.common import ref
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.errors import InvalidParameter, PermissionDenied
from virga.jobs.engine import JobRun, job_body
from virga.models import Account, Template, Zone
from virga.services import uploads
from virga.services.templates import is_simulated

FIELDS.update(
    {
        "getuploadparams": "id postURL metadata expires signature",
        "template_extract": "id name extractId extractMode state status uploadpercentage url zoneid zonename "
        "accountid created storagetype",
    }
)


@api(
    "getUploadParamsForTemplate",
    "Registers a template to be uploaded from the client with a signed POST",
    "getuploadparams",
    [
        Param("name", required=True, description="the name"),
        Param("displaytext", description="the display text"),
        Param("format", required=True, description="QCOW2, RAW, VHD, VHDX or OVA"),
        Param("hypervisor", required=True, description="the hypervisor the template runs on"),
        Param("zoneid", required=True, description="the zone, or -1 for every zone"),
        Param("ostypeid", "uuid", description="the guest OS type"),
        Param("checksum", description="{md5}hex, {sha256}hex, ... verified after the upload"),
        Param("ispublic", "boolean", description="usable by every account"),
        Param("isfeatured", "boolean", description="featured (admins)"),
        Param("isextractable", "boolean", description="may be downloaded back"),
        Param("passwordenabled", "boolean", description="the template runs the password service"),
        Param("account", description="the owner account (admins)"),
        Param("domainid", "uuid", description="its domain"),
        Param("details", "map", description="details"),
        Param("bits", "integer", description="unused"),
        Param("requireshvm", "boolean", description="unused"),
        Param("sshkeyenabled", "boolean", description="unused"),
        Param("isdynamicallyscalable", "boolean", description="unused"),
        Param("projectid", "uuid", description="unused"),
        Param("templatetag", description="unused"),
        Param("deployasis", "boolean", description="unused"),
    ],
)
def get_upload_params(ctx: Ctx) -> dict[str, Any]:
    """Record a template waiting for its file and sign the POST that will carry it."""
    return register_upload(ctx, iso=False)


def register_upload(ctx: Ctx, iso: bool) -> dict[str, Any]:
    """Record a template or ISO waiting for its file; the getuploadparams answer signing its POST."""
    t = new_template(ctx, iso, "", uploads.AWAITING)
    if is_simulated(ctx.db, t, by_url=False):
        raise InvalidParameter("Uploads need a real NFS image store; this zone's downloads are simulated")
    ctx.db.add(t)
    ctx.db.flush()
    return {"getuploadparams": uploads.upload_params(ctx.db, t, "iso" if iso else "template")}


def extract_view(ctx: Ctx, t: Any, url: str, mode: str) -> dict[str, Any]:
    """The extract object of an extractTemplate/extractIso/extractVolume answer (t: a template or volume row)."""
    acct = ctx.by_id(Account, t.account_id)
    return clean(
        {
            "id": t.uuid,
            "name": t.name,
            "extractId": t.uuid,
            "extractMode": mode,
            "state": "DOWNLOAD_URL_CREATED",
            "status": "DOWNLOAD_URL_CREATED",
            "uploadpercentage": 100,
            "url": url,
            **ref(ctx, Zone, t.zone_id, "zone"),
            "accountid": acct.uuid if acct else None,
            "created": t.created,
            "storagetype": "Image",
        }
    )


def check_mode(ctx: Ctx) -> str:
    """The extract mode: only HTTP_DOWNLOAD is supported (431 otherwise)."""
    if (ctx.args.mode or "").upper() != "HTTP_DOWNLOAD":
        raise InvalidParameter("Parameter mode: only HTTP_DOWNLOAD is supported")
    return "HTTP_DOWNLOAD"


def queue_extract(ctx: Ctx, iso: bool) -> Pending:
    """Check a template (or ISO) may be extracted and queue the URL's creation."""
    t = find_template(ctx, ctx.args.id, iso=iso)
    mode = check_mode(ctx)
    kind = "ISO" if iso else "Template"
    if not ctx.can_see(t) or not (t.isextractable or ctx.is_root):
        raise PermissionDenied(f"{kind} {t.name} is not extractable (only its owner may, when isextractable)")
    uploads.store_file(ctx.db, t)
    uploads.signing_key(ctx.db)
    return Pending("Iso" if iso else "Template", t.uuid, {"mode": mode})


EXTRACT_PARAMS = [
    Param("id", "uuid", required=True, description="the template, ISO or volume"),
    Param("mode", required=True, description="HTTP_DOWNLOAD (FTP_UPLOAD is not supported)"),
    Param("zoneid", "uuid", description="the zone of the copy (there is one copy)"),
    Param("url", description="unused: only HTTP_DOWNLOAD is supported"),
]


@api(
    "extractTemplate",
    "Gives a signed, expiring URL to download a template's file",
    "template",
    EXTRACT_PARAMS,
    is_async=True,
)
def extract_template(ctx: Ctx) -> Pending:
    """Check the template may be extracted and queue the URL's creation."""
    return queue_extract(ctx, iso=False)


@job_body("extractTemplate")
async def extract_body(run: JobRun) -> dict[str, Any]:
    """Sign a download URL for the template's (or ISO's) file on the image store."""
    with run.ctx() as ctx:
        t = ctx.db.exec(select(Template).where(Template.uuid == run.instance_uuid)).one()
        uploads.store_file(ctx.db, t)
        view = extract_view(ctx, t, uploads.download_url(ctx.db, t), run.params["mode"])
        return {"iso" if t.is_iso else "template": view}
