"""Image stores (secondary storage): add (checking the NFS export answers), list, delete."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from sqlmodel import select
from virga.api.registry import ROOT, Param, api
from virga.api.response import list_body
from virga.api.validators import unique_name
from virga.api.views.imagestores import store_view
from virga.context import Ctx
from virga.errors import InUse, InvalidParameter
from virga.models import ImageStore, Template, Zone
from virga.services import imagestores as svc


def _check_url(url: str) -> None:
    """An nfs://host/path URL without port or options (what the storage service can reach)."""
    parsed = urlparse(url)
    if parsed.scheme.lower() != "nfs" or not parsed.hostname:
        raise InvalidParameter(f"Parameter url: {url!r} is not an nfs://host/path URL")
    if not parsed.path.startswith("/") or ".." in parsed.path.split("/"):
        raise InvalidParameter(f"Parameter url: {url!r} needs an absolute export path")
    if parsed.port or parsed.query:
        raise InvalidParameter(f"Parameter url: {url!r} must not carry a port or options")


async def _add(ctx: Ctx) -> ImageStore:
    """Validate, then record the image store (the service probes its export)."""
    a = ctx.args
    if (a.provider or "NFS").upper() != "NFS":
        raise InvalidParameter(f"Parameter provider: {a.provider!r} is not supported (NFS)")
    _check_url(a.url)
    zone = ctx.get(Zone, a.zoneid, "zoneid") if a.zoneid else None
    name = a.name or urlparse(a.url).hostname or "image-store"
    unique_name(ctx, ImageStore, name, "image store")
    dup = ctx.db.exec(select(ImageStore).where(ImageStore.url == a.url, ImageStore.removed == None)).first()
    if dup is not None:
        raise InvalidParameter(f"Parameter url: image store {dup.name} already uses {a.url}")
    return await svc.add_image_store(ctx.db, name, a.url, zone)


@api(
    "addImageStore",
    "Adds an image store (secondary storage)",
    "imagestore",
    [
        Param("provider", required=True, description="the provider: NFS"),
        Param("name", description="the name of the store"),
        Param("url", description="nfs://host/path of the export"),
        Param("zoneid", "uuid", description="the zone (absent: region-wide)"),
        Param("details", "map", description="unused"),
    ],
    roles=ROOT,
)
async def add_image_store(ctx: Ctx) -> dict[str, Any]:
    """Add an NFS image store."""
    if not ctx.args.url:
        raise InvalidParameter("Missing parameter url")
    store = await _add(ctx)
    return {"imagestore": store_view(ctx, store)}


@api(
    "addSecondaryStorage",
    "Adds secondary storage (an NFS image store)",
    "secondarystorage",
    [
        Param("url", required=True, description="nfs://host/path of the export"),
        Param("zoneid", "uuid", description="the zone"),
    ],
    roles=ROOT,
)
async def add_secondary_storage(ctx: Ctx) -> dict[str, Any]:
    """The older name of addImageStore."""
    store = await _add(ctx)
    return {"secondarystorage": store_view(ctx, store)}


@api(
    "listImageStores",
    "Lists image stores",
    "imagestore",
    [
        Param("id", "uuid", description="the store"),
        Param("name", description="the name"),
        Param("zoneid", "uuid", description="the zone"),
        Param("protocol", description="nfs"),
        Param("provider", description="NFS"),
        Param("readonly", "boolean", description="read-only stores"),
    ],
    roles=ROOT,
    paged=True,
)
def list_image_stores(ctx: Ctx) -> dict[str, Any]:
    """List image stores."""
    a = ctx.args
    stmt = select(ImageStore)
    if a.zoneid:
        stmt = stmt.where(ImageStore.zone_id == ctx.get(Zone, a.zoneid, "zoneid").id)
    if a.protocol:
        stmt = stmt.where(ImageStore.protocol == a.protocol.lower())
    if a.provider:
        stmt = stmt.where(ImageStore.providername == a.provider.upper())
    if a.readonly is not None:
        stmt = stmt.where(ImageStore.readonly == a.readonly)
    rows, count = ctx.page(stmt, ImageStore)
    ctx.preload(Zone, {st.zone_id for st in rows})
    return list_body("imagestore", [store_view(ctx, st) for st in rows], count)


@api(
    "deleteImageStore",
    "Deletes an image store",
    "success",
    [Param("id", "uuid", required=True, description="the store")],
    roles=ROOT,
)
def delete_image_store(ctx: Ctx) -> dict[str, Any]:
    """Delete an image store no live template or ISO is stored on."""
    store = ctx.get(ImageStore, ctx.args.id)
    used = ctx.db.exec(
        select(Template).where(
            Template.removed == None,
            Template.install_path.startswith(store.url + "/"),
        )
    ).first()
    if used is not None:
        raise InUse(f"Image store {store.name} still holds template {used.name}; delete its templates first")
    svc.delete_image_store(ctx.db, store)
    return {"success": True}
