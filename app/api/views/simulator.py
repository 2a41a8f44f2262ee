"""The mockconfig response object (configureSimulator)."""

from __future__ import annotations

from typing import Any

from virga.api.response import clean
from virga.api.views.fields import FIELDS

FIELDS.update({"mockconfig": "name operation value count zoneid podid clusterid hostid hosts"})


def mockconfig_view(args: dict[str, Any], operation: str, hosts: list[str] | None) -> dict[str, Any]:
    """A mockconfig response object: the call's parameters, the operation they mean and the hosts it targets."""
    return clean(
        {
            "name": args.get("name"),
            "operation": operation,
            "value": args.get("value"),
            "count": args.get("count"),
            "zoneid": args.get("zoneid"),
            "podid": args.get("podid"),
            "clusterid": args.get("clusterid"),
            "hostid": args.get("hostid"),
            "hosts": hosts,
        }
    )
