"""The serviceoffering, diskoffering and ostype response objects."""

from __future__ import annotations

from typing import Any

from virga.api.response import clean
from virga.api.views.common import ref
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.models import DiskOffering, Domain, OsCategory, OsType, ServiceOffering

FIELDS.update(
    {
        "serviceoffering": "id name displaytext cpunumber cpuspeed memory created storagetype offerha limitcpuuse "
        "hosttags tags storagetags domainid domain issystem iscustomized defaultuse rootdisksize provisioningtype "
        "state isvolatile",
        "diskoffering": "id name displaytext disksize created iscustomized storagetype tags domainid domain "
        "provisioningtype displayoffering state",
        "ostype": "id description name oscategoryid oscategoryname isuserdefined",
        "oscategory": "id name",
    }
)


def service_offering_view(ctx: Ctx, o: ServiceOffering) -> dict[str, Any]:
    """A serviceoffering response object."""
    return clean(
        {
            "id": o.uuid,
            "name": o.name,
            "displaytext": o.displaytext,
            "cpunumber": o.cpunumber,
            "cpuspeed": o.cpuspeed,
            "memory": o.memory,
            "created": o.created,
            "storagetype": o.storagetype,
            "offerha": o.offerha,
            "limitcpuuse": o.limitcpuuse,
            "hosttags": o.hosttags or None,
            "tags": o.tags or None,
            "storagetags": o.tags or None,
            **ref(ctx, Domain, o.domain_id, "domain"),
            "issystem": o.issystem,
            "iscustomized": o.iscustomized,
            "defaultuse": False,
            "rootdisksize": o.rootdisksize or None,
            "provisioningtype": "thin",
            "state": o.state,
            "isvolatile": False,
        }
    )


def disk_offering_view(ctx: Ctx, o: DiskOffering) -> dict[str, Any]:
    """A diskoffering response object."""
    return clean(
        {
            "id": o.uuid,
            "name": o.name,
            "displaytext": o.displaytext,
            "disksize": o.disksize,
            "created": o.created,
            "iscustomized": o.iscustomized,
            "storagetype": o.storagetype,
            "tags": o.tags or None,
            **ref(ctx, Domain, o.domain_id, "domain"),
            "provisioningtype": o.provisioningtype,
            "displayoffering": True,
            "state": o.state,
        }
    )


def ostype_view(ctx: Ctx, o: OsType) -> dict[str, Any]:
    """An ostype response object."""
    return clean(
        {
            "id": o.uuid,
            "description": o.description,
            "name": o.description,
            **ref(ctx, OsCategory, o.oscategory_id, "oscategory"),
            "isuserdefined": False,
        }
    )
