"""Template uploads (getUploadParamsForTemplate) and signed download URLs (extractTemplate)."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from virga.api.commands.templates import find_template, new_template
from virga.api.context import Ctx
from virga.api.dispatch import Pending
from virga.api.registry import Param, api
from virga.api.response import clean
from virga.api.views.common import ref
from virga.api.views.fields import FIELDS
from virga.errors import InvalidParameter, PermissionDenied
from virga.jobs.engine import JobRun, job_body
from virga.models import Account, Template, Zone
from virga.services import uploads
from virga.services.templates import is_simulated

FIELDS.update({
    "getuploadparams": "id postURL metadata expires signature",
    "template_extract": "id name extractId extractMode state status uploadpercentage url zoneid zonename "
    "accountid created storagetype",
})


@api("getUploadParamsForTemplate", "Registers a template to be uploaded from the client with a signed POST",
     "getuploadparams", [
         Param("name", required=True, description="the name"), Param("displaytext", description="the display text"),
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
         Param("domainid", "uuid", description="its domain"), Param("details", "map", description="details"),
         Param("bits", "integer", description="unused"), Param("requireshvm", "boolean", description="unused"),
         Param("sshkeyenabled", "boolean", description="unused"),
         Param("isdynamicallyscalable", "boolean", description="unused"),
         Param("projectid", "uuid", description="unused"), Param("templatetag", description="unused"),
         Param("deployasis", "boolean", description="unused"),
     ])
def get_upload_params(ctx: Ctx) -> dict[str, Any]:
    """Record a template waiting for its file and sign the POST that will carry it."""
    t = new_template(ctx, False, "", uploads.AWAITING)
    if is_simulated(ctx.db, t, by_url=False):
        raise InvalidParameter("Uploads need a real NFS image store; this zone's downloads are simulated")
    ctx.db.add(t)
    ctx.db.flush()
    return {"getuploadparams": uploads.upload_params(ctx.db, t)}


def extract_view(ctx: Ctx, t: Template, url: str, mode: str) -> dict[str, Any]:
    """The template object of an extractTemplate answer."""
    acct = ctx.by_id(Account, t.account_id)
    return clean({"id": t.uuid, "name": t.name, "extractId": t.uuid, "extractMode": mode,
                  "state": "DOWNLOAD_URL_CREATED", "status": "DOWNLOAD_URL_CREATED", "uploadpercentage": 100,
                  "url": url, **ref(ctx, Zone, t.zone_id, "zone"), "accountid": acct.uuid if acct else None,
                  "created": t.created, "storagetype": "Image"})


@api("extractTemplate", "Gives a signed, expiring URL to download a template's file", "template", [
    Param("id", "uuid", required=True, description="the template"),
    Param("mode", required=True, description="HTTP_DOWNLOAD (FTP_UPLOAD is not supported)"),
    Param("zoneid", "uuid", description="the zone of the copy (templates have one copy)"),
    Param("url", description="unused: only HTTP_DOWNLOAD is supported"),
], is_async=True)
def extract_template(ctx: Ctx) -> Pending:
    """Check the template may be extracted and queue the URL's creation."""
    t = find_template(ctx, ctx.args.id, iso=False)
    if (ctx.args.mode or "").upper() != "HTTP_DOWNLOAD":
        raise InvalidParameter("Parameter mode: only HTTP_DOWNLOAD is supported")
    if not ctx.can_see(t) or not (t.isextractable or ctx.is_root):
        raise PermissionDenied(f"Template {t.name} is not extractable (only its owner may, when isextractable)")
    uploads.store_file(ctx.db, t)
    uploads.signing_key(ctx.db)
    return Pending("Template", t.uuid, {"mode": "HTTP_DOWNLOAD"})


@job_body("extractTemplate")
async def extract_body(run: JobRun) -> dict[str, Any]:
    """Sign a download URL for the template's file on the image store."""
    with run.ctx() as ctx:
        t = ctx.db.exec(select(Template).where(Template.uuid == run.instance_uuid)).one()
        uploads.store_file(ctx.db, t)
        return {"template": extract_view(ctx, t, uploads.download_url(ctx.db, t), run.params["mode"])}
