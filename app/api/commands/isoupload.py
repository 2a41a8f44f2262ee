"""ISO uploads (getUploadParamsForIso + the signed POST) and extractIso: the template transfer path, for ISOs."""

from __future__ import annotations

from typing import Any

from virga.api.commands.uploads import EXTRACT_PARAMS, queue_extract, register_upload
from virga.api.registry import Param, api
from virga.context import Ctx
from virga.errors import InvalidParameter
from virga.jobs.pending import Pending


@api(
    "getUploadParamsForIso",
    "Registers an ISO to be uploaded from the client with a signed POST",
    "getuploadparams",
    [
        Param("name", required=True, description="the name"),
        Param("displaytext", description="the display text"),
        Param("zoneid", required=True, description="the zone, or -1 for every zone"),
        Param("format", description="ISO (the only format of an ISO)"),
        Param("bootable", "boolean", description="whether VMs can boot from the ISO (default true)"),
        Param("ostypeid", "uuid", description="the guest OS type"),
        Param("checksum", description="{md5}hex, {sha256}hex, ... verified after the upload"),
        Param("ispublic", "boolean", description="usable by every account"),
        Param("isfeatured", "boolean", description="featured (admins)"),
        Param("isextractable", "boolean", description="may be downloaded back"),
        Param("account", description="the owner account (admins)"),
        Param("domainid", "uuid", description="its domain"),
        Param("projectid", "uuid", description="unused"),
        Param("imagestoreuuid", description="unused"),
    ],
)
def get_upload_params_iso(ctx: Ctx) -> dict[str, Any]:
    """Record an ISO waiting for its file and sign the POST that will carry it."""
    if ctx.args.format and ctx.args.format.upper() != "ISO":
        raise InvalidParameter("Parameter format must be ISO for getUploadParamsForIso")
    return register_upload(ctx, iso=True)


@api("extractIso", "Gives a signed, expiring URL to download an ISO's file", "iso", EXTRACT_PARAMS, is_async=True)
def extract_iso(ctx: Ctx) -> Pending:
    """Check the ISO may be extracted and queue the URL's creation."""
    return queue_extract(ctx, iso=True)
