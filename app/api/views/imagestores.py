"""The imagestore (and older secondarystorage) response object."""

from __future__ import annotations

from typing import Any

from virga.api.response import clean
from virga.api.views.common import ref
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.models import ImageStore, Zone

FIELDS.update(
    {
        "imagestore": "id name zoneid zonename url protocol providername scope readonly disksizetotal disksizeused",
        "secondarystorage": "id name zoneid zonename url protocol providername scope readonly disksizetotal "
        "disksizeused",
    }
)


def store_view(ctx: Ctx, st: ImageStore) -> dict[str, Any]:
    """An imagestore response object."""
    return clean(
        {
            "id": st.uuid,
            "name": st.name,
            **ref(ctx, Zone, st.zone_id, "zone"),
            "url": st.url,
            "protocol": st.protocol,
            "providername": st.providername,
            "scope": st.scope,
            "readonly": st.readonly,
            "disksizetotal": st.capacitybytes or None,
            "disksizeused": st.usedbytes if st.capacitybytes else None,
        }
    )
