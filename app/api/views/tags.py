"""The tag response object."""

from __future__ import annotations

from typing import Any

from virga.api.response import clean
from virga.api.views.common import owner
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.models import ResourceTag

FIELDS["tag"] = "key value resourcetype resourceid customer account domainid domain domainpath"


def tag_view(ctx: Ctx, t: ResourceTag) -> dict[str, Any]:
    """A tag response object."""
    return clean(
        {"key": t.key, "value": t.value, "resourcetype": t.resourcetype, "resourceid": t.resource_uuid, **owner(ctx, t)}
    )
