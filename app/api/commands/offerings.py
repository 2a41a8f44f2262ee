"""Service and disk offerings, OS types and categories."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from virga.api.catalog import domain_filter
from virga.api.registry import ROOT, USER, Param, api
from virga.api.response import list_body
from virga.api.validators import one_of, positive, tag_list
from virga.api.views.offerings import disk_offering_view, ostype_view, service_offering_view
from virga.context import Ctx
from virga.errors import InvalidParameter, PermissionDenied
from virga.models import DiskOffering, Domain, OsCategory, OsType, ServiceOffering, VirtualMachine
from virga.services import offerings as svc

STORAGE_TYPES = ("shared", "local")
PROVISIONING = ("thin", "sparse", "fat")


def _domain_id(ctx: Ctx) -> int | None:
    """The domain a new offering is limited to (domainid), or None for a public offering."""
    return ctx.get(Domain, ctx.args.domainid, "domainid").id if ctx.args.domainid else None


def _sizes(ctx: Ctx) -> tuple[int | None, int | None, int | None, bool]:
    """cpunumber, cpuspeed, memory and whether the offering is customized (all three absent)."""
    a = ctx.args
    for p in ("cpunumber", "cpuspeed", "memory"):
        positive(a.get(p), p)
    if a.memory is not None and a.memory < 32:
        raise InvalidParameter("Parameter memory must be at least 32 (MB)")
    custom = a.cpunumber is None and a.memory is None
    if a.customized is False and custom:
        raise InvalidParameter("Missing parameter cpunumber: a fixed offering needs cpunumber, cpuspeed and memory")
    if not custom:
        if a.customized:
            raise InvalidParameter("Parameters cpunumber and memory must not be given with customized=true")
        for p in ("cpunumber", "cpuspeed", "memory"):
            if a.get(p) is None:
                raise InvalidParameter(f"Missing parameter {p}: a fixed offering needs cpunumber, cpuspeed and memory")
    return a.cpunumber, a.cpuspeed, a.memory, custom


@api(
    "createServiceOffering",
    "Creates a service offering",
    "serviceoffering",
    [
        Param("name", required=True, description="the name"),
        Param("displaytext", description="the display text"),
        Param("cpunumber", "integer", description="CPU cores (absent: customized)"),
        Param("cpuspeed", "integer", description="CPU speed in MHz"),
        Param("memory", "integer", description="memory in MB (absent: customized)"),
        Param("customized", "boolean", description="true: CPU and memory are chosen at deploy time"),
        Param("storagetype", description="shared or local"),
        Param("offerha", "boolean", description="HA"),
        Param("limitcpuuse", "boolean", description="cap CPU use"),
        Param("hosttags", description="host tags"),
        Param("tags", description="storage tags"),
        Param("domainid", "uuid", description="limit to a domain"),
        Param("issystem", "boolean", description="for system VMs"),
        Param("systemvmtype", description="unused"),
        Param("rootdisksize", "long", description="root disk size in GB"),
        Param("networkrate", "integer", description="unused"),
        Param("isvolatile", "boolean", description="unused"),
        Param("provisioningtype", description="thin, sparse or fat"),
    ],
    roles=ROOT,
)
def create_service_offering(ctx: Ctx) -> dict[str, Any]:
    """Create a service offering."""
    a = ctx.args
    cpus, speed, memory, custom = _sizes(ctx)
    storagetype = one_of(a.storagetype or "shared", STORAGE_TYPES, "storagetype") or "shared"
    one_of(a.provisioningtype, PROVISIONING, "provisioningtype")
    positive(a.rootdisksize, "rootdisksize")
    o = svc.create_service_offering(
        ctx.db,
        name=a.name,
        displaytext=a.displaytext or a.name,
        cpunumber=cpus,
        cpuspeed=speed,
        memory=memory,
        iscustomized=custom,
        storagetype=storagetype,
        offerha=bool(a.offerha),
        limitcpuuse=bool(a.limitcpuuse),
        hosttags=tag_list(a.hosttags),
        tags=tag_list(a.tags),
        domain_id=_domain_id(ctx),
        issystem=bool(a.issystem),
        rootdisksize=a.rootdisksize or 0,
    )
    return {"serviceoffering": service_offering_view(ctx, o)}


@api(
    "listServiceOfferings",
    "Lists service offerings",
    "serviceoffering",
    [
        Param("id", "uuid", description="the offering"),
        Param("name", description="the name"),
        Param("domainid", "uuid", description="offerings of a domain"),
        Param("issystem", "boolean", description="system VM offerings (admins)"),
        Param("systemvmtype", description="unused"),
        Param("isrecursive", "boolean", description="unused"),
        Param("virtualmachineid", "uuid", description="offerings this VM can change to"),
        Param("zoneid", "uuid", description="unused"),
        Param("cpunumber", "integer", description="CPU cores"),
        Param("memory", "integer", description="memory in MB"),
        Param("cpuspeed", "integer", description="MHz"),
    ],
    paged=True,
)
def list_service_offerings(ctx: Ctx) -> dict[str, Any]:
    """List the service offerings the caller may use."""
    a = ctx.args
    if a.issystem and ctx.role == USER:
        raise PermissionDenied("Only administrators may list system offerings (parameter issystem)")
    stmt = domain_filter(ctx, select(ServiceOffering), ServiceOffering).where(
        ServiceOffering.issystem == bool(a.issystem)
    )
    if a.virtualmachineid:
        vm = ctx.get(VirtualMachine, a.virtualmachineid, "virtualmachineid")
        stmt = stmt.where(ServiceOffering.id != vm.serviceoffering_id)
    for p in ("cpunumber", "memory", "cpuspeed"):
        if a.get(p) is not None:
            stmt = stmt.where(getattr(ServiceOffering, p) == a[p])
    rows, count = ctx.page(stmt, ServiceOffering, keyword=("name", "displaytext"))
    ctx.preload(Domain, {o.domain_id for o in rows})
    return list_body("serviceoffering", [service_offering_view(ctx, o) for o in rows], count)


@api(
    "updateServiceOffering",
    "Updates a service offering",
    "serviceoffering",
    [
        Param("id", "uuid", required=True, description="the offering"),
        Param("name", description="new name"),
        Param("displaytext", description="new display text"),
        Param("hosttags", description="host tags"),
        Param("storagetags", description="storage tags"),
        Param("sortkey", "integer", description="unused"),
    ],
    roles=ROOT,
)
def update_service_offering(ctx: Ctx) -> dict[str, Any]:
    """Rename a service offering or change its tags."""
    a = ctx.args
    o = ctx.get(ServiceOffering, a.id)
    changes: dict[str, Any] = {}
    if a.name and a.name != o.name:
        changes["name"] = a.name
    if a.displaytext is not None:
        changes["displaytext"] = a.displaytext
    if a.hosttags is not None:
        changes["hosttags"] = tag_list(a.hosttags)
    if a.storagetags is not None:
        changes["tags"] = tag_list(a.storagetags)
    svc.update_offering(ctx.db, o, changes)
    return {"serviceoffering": service_offering_view(ctx, o)}


@api(
    "deleteServiceOffering",
    "Deletes a service offering (VMs using it keep running)",
    "success",
    [Param("id", "uuid", required=True, description="the offering")],
    roles=ROOT,
)
def delete_service_offering(ctx: Ctx) -> dict[str, Any]:
    """Remove a service offering from the catalog."""
    svc.delete_offering(ctx.db, ctx.get(ServiceOffering, ctx.args.id))
    return {"success": True}


@api(
    "createDiskOffering",
    "Creates a disk offering",
    "diskoffering",
    [
        Param("name", required=True, description="the name"),
        Param("displaytext", description="the display text"),
        Param("disksize", "long", description="size in GB (absent with customized=true)"),
        Param("customized", "boolean", description="the size is chosen when the volume is created"),
        Param("storagetype", description="shared or local"),
        Param("tags", description="storage tags"),
        Param("domainid", "uuid", description="limit to a domain"),
        Param("provisioningtype", description="thin, sparse or fat"),
        Param("displayoffering", "boolean", description="unused"),
    ],
    roles=ROOT,
)
def create_disk_offering(ctx: Ctx) -> dict[str, Any]:
    """Create a disk offering."""
    a = ctx.args
    if a.customized and a.disksize is not None:
        raise InvalidParameter("Parameter disksize must not be given with customized=true")
    if not a.customized and a.disksize is None:
        raise InvalidParameter("Missing parameter disksize (or give customized=true)")
    positive(a.disksize, "disksize")
    storagetype = one_of(a.storagetype or "shared", STORAGE_TYPES, "storagetype") or "shared"
    prov = one_of(a.provisioningtype or "thin", PROVISIONING, "provisioningtype") or "thin"
    o = svc.create_disk_offering(
        ctx.db,
        name=a.name,
        displaytext=a.displaytext or a.name,
        disksize=a.disksize or 0,
        iscustomized=bool(a.customized),
        storagetype=storagetype,
        tags=tag_list(a.tags),
        provisioningtype=prov,
        domain_id=_domain_id(ctx),
    )
    return {"diskoffering": disk_offering_view(ctx, o)}


@api(
    "listDiskOfferings",
    "Lists disk offerings",
    "diskoffering",
    [
        Param("id", "uuid", description="the offering"),
        Param("name", description="the name"),
        Param("domainid", "uuid", description="offerings of a domain"),
        Param("zoneid", "uuid", description="unused"),
        Param("isrecursive", "boolean", description="unused"),
        Param("volumeid", "uuid", description="unused"),
        Param("storageid", "uuid", description="unused"),
    ],
    paged=True,
)
def list_disk_offerings(ctx: Ctx) -> dict[str, Any]:
    """List the disk offerings the caller may use."""
    stmt = domain_filter(ctx, select(DiskOffering), DiskOffering)
    rows, count = ctx.page(stmt, DiskOffering, keyword=("name", "displaytext"))
    ctx.preload(Domain, {o.domain_id for o in rows})
    return list_body("diskoffering", [disk_offering_view(ctx, o) for o in rows], count)


@api(
    "updateDiskOffering",
    "Updates a disk offering",
    "diskoffering",
    [
        Param("id", "uuid", required=True, description="the offering"),
        Param("name", description="new name"),
        Param("displaytext", description="new display text"),
        Param("tags", description="storage tags"),
        Param("sortkey", "integer", description="unused"),
        Param("displayoffering", "boolean", description="unused"),
    ],
    roles=ROOT,
)
def update_disk_offering(ctx: Ctx) -> dict[str, Any]:
    """Rename a disk offering or change its tags."""
    a = ctx.args
    o = ctx.get(DiskOffering, a.id)
    changes: dict[str, Any] = {}
    if a.name and a.name != o.name:
        changes["name"] = a.name
    if a.displaytext is not None:
        changes["displaytext"] = a.displaytext
    if a.tags is not None:
        changes["tags"] = tag_list(a.tags)
    svc.update_offering(ctx.db, o, changes)
    return {"diskoffering": disk_offering_view(ctx, o)}


@api(
    "deleteDiskOffering",
    "Deletes a disk offering (volumes using it are kept)",
    "success",
    [Param("id", "uuid", required=True, description="the offering")],
    roles=ROOT,
)
def delete_disk_offering(ctx: Ctx) -> dict[str, Any]:
    """Remove a disk offering from the catalog."""
    svc.delete_offering(ctx.db, ctx.get(DiskOffering, ctx.args.id))
    return {"success": True}


@api(
    "listOsTypes",
    "Lists guest OS types",
    "ostype",
    [
        Param("id", "uuid", description="the OS type"),
        Param("oscategoryid", "uuid", description="the category"),
        Param("description", description="the description"),
    ],
    paged=True,
)
def list_os_types(ctx: Ctx) -> dict[str, Any]:
    """List guest OS types."""
    a = ctx.args
    stmt = select(OsType)
    if a.oscategoryid:
        stmt = stmt.where(OsType.oscategory_id == ctx.get(OsCategory, a.oscategoryid, "oscategoryid").id)
    if a.description:
        stmt = stmt.where(OsType.description == a.description)
    rows, count = ctx.page(stmt, OsType, keyword=("description",))
    ctx.preload(OsCategory, {o.oscategory_id for o in rows})
    return list_body("ostype", [ostype_view(ctx, o) for o in rows], count)


@api(
    "listOsCategories",
    "Lists guest OS categories",
    "oscategory",
    [
        Param("id", "uuid", description="the category"),
        Param("name", description="the name"),
    ],
    paged=True,
)
def list_os_categories(ctx: Ctx) -> dict[str, Any]:
    """List guest OS categories."""
    rows, count = ctx.page(select(OsCategory), OsCategory)
    return list_body("oscategory", [{"id": c.uuid, "name": c.name} for c in rows], count)
