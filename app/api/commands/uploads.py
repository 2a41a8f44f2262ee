"""Template uploads (getUploadParamsForTemplate) and signed download URLs (extractTemplate)."""

from __future__ import annotations

from typing import Any

from virga.api.commands.templates import find_template, new_template
from virga.api.registry import Param, api
from virga.api.views import uploads as _views  # noqa: F401  (the getuploadparams and extract fields)
from virga.context import Ctx
from virga.errors import InvalidParameter, PermissionDenied
from virga.jobs.pending import Pending
from virga.services import transfers, uploads


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
    backend = transfers.for_template(ctx.db, t, by_url=False)
    if not backend.files:
        raise InvalidParameter(f"Uploads need a real NFS image store; {backend.why_no_files}")
    return {"getuploadparams": uploads.record_upload(ctx, t)}


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
