"""The getuploadparams and extract response objects (uploads and signed download URLs)."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from virga.api.response import clean
from virga.api.views.common import ref
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.models import Account, Zone
from virga.services.uploads import Extracted

FIELDS.update(
    {
        "getuploadparams": "id postURL metadata expires signature",
        "template_extract": "id name extractId extractMode state status uploadpercentage url zoneid zonename "
        "accountid created storagetype",
    }
)


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


def extract_views(ctx: Ctx, rows: list[Extracted]) -> list[dict[str, Any]]:
    """Extract objects of extract jobs' results."""
    out = []
    for e in rows:
        row: Any = ctx.db.exec(select(e.model).where(e.model.uuid == e.uuid)).one()  # type: ignore[attr-defined]
        out.append(extract_view(ctx, row, e.url, e.mode))
    return out


RENDERERS = {Extracted: ("template", extract_views)}
