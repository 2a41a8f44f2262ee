"""The networkoffering response object."""

from __future__ import annotations

from typing import Any

from virga.api.response import clean
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.models import NetworkOffering

FIELDS.update(
    {
        "networkoffering": "id name displaytext traffictype isdefault specifyvlan conservemode specifyipranges "
        "availability networkrate state guestiptype egressdefaultpolicy service created forvpc ispersistent "
        "supportspublicaccess supportsstrechedl2subnet",
    }
)


def network_offering_view(ctx: Ctx, o: NetworkOffering) -> dict[str, Any]:
    """A networkoffering response object."""
    services = [
        {"name": svc, "provider": [{"name": prov}], "capability": []}
        for svc, prov in sorted((o.services or {}).items())
    ]
    return clean(
        {
            "id": o.uuid,
            "name": o.name,
            "displaytext": o.displaytext,
            "traffictype": o.traffictype,
            "isdefault": o.isdefault,
            "specifyvlan": o.specifyvlan,
            "conservemode": o.conservemode,
            "specifyipranges": o.specifyipranges,
            "availability": o.availability,
            "networkrate": o.networkrate,
            "state": o.state,
            "guestiptype": o.guestiptype,
            "egressdefaultpolicy": o.egressdefaultpolicy,
            "service": services,
            "created": o.created,
            "forvpc": False,
            "ispersistent": False,
            "supportspublicaccess": False,
            "supportsstrechedl2subnet": False,
        }
    )


def network_offering_views(ctx: Ctx, rows: list[NetworkOffering]) -> list[dict[str, Any]]:
    """Networkoffering response objects."""
    return [network_offering_view(ctx, o) for o in rows]


RENDERERS = {NetworkOffering: ("networkoffering", network_offering_views)}
