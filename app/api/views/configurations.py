"""The configuration (global setting) response object."""

from __future__ import annotations

from typing import Any

from virga.api.response import clean
from virga.api.views.fields import FIELDS
from virga.models import Configuration
from virga.services.settings import scope_of, value_type

FIELDS.update({"configuration": "name value category description defaultvalue scope isdynamic type"})


def config_view(c: Configuration) -> dict[str, Any]:
    """A configuration response object."""
    scope, dynamic = scope_of(c)
    return clean(
        {
            "name": c.name,
            "value": c.value,
            "category": c.category,
            "description": c.description,
            "defaultvalue": c.defaultvalue,
            "scope": scope,
            "isdynamic": dynamic,
            "type": value_type(c),
        }
    )
