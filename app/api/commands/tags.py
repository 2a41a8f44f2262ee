"""Resource tags: create, delete and list key/value tags on the caller's resources."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from virga.api.dispatch import Pending
from virga.api.registry import Param, api
from virga.api.response import list_body
from virga.api.views.tags import tag_view
from virga.context import Ctx
from virga.errors import InvalidParameter
from virga.models import (
    Network,
    PublicIpAddress,
    ResourceTag,
    Snapshot,
    Template,
    VirtualMachine,
    VMSnapshot,
    Volume,
)
from virga.services import tags

MODELS: dict[str, Any] = {
    "UserVm": VirtualMachine,
    "Volume": Volume,
    "Snapshot": Snapshot,
    "Network": Network,
    "Template": Template,
    "ISO": Template,
    "PublicIpAddress": PublicIpAddress,
    "VMSnapshot": VMSnapshot,
}
_BY_LOWER = {k.lower(): k for k in MODELS}
TARGET = [
    Param("resourceids", "list", required=True, description="the resources"),
    Param(
        "resourcetype",
        required=True,
        description="UserVm, Volume, Snapshot, Network, Template, ISO, PublicIpAddress or VMSnapshot",
    ),
]


def _kind(value: str) -> str:
    """A supported resource type, in CloudStack's spelling."""
    kind = _BY_LOWER.get(value.lower())
    if kind is None:
        raise InvalidParameter(f"Parameter resourcetype: {value!r} is not one of {', '.join(MODELS)}")
    return kind


def _resources(ctx: Ctx, kind: str) -> list[Any]:
    """The rows named by resourceids, each visible to and changeable by the caller."""
    out = []
    for uuid in ctx.args.resourceids:
        row = ctx.get(MODELS[kind], uuid, "resourceids")
        ctx.require(row, f"{kind} {uuid}")
        out.append(row)
    if not out:
        raise InvalidParameter("Parameter resourceids is empty")
    return out


@api(
    "createTags",
    "Creates tags on resources",
    "success",
    TARGET
    + [
        Param("tags", "map", required=True, description="the tags: tags[0].key=...&tags[0].value=..."),
        Param("customer", description="unused"),
    ],
    is_async=True,
)
def create_tags(ctx: Ctx) -> Pending:
    """Validate and record the tags (a duplicate key on a resource is refused); the job reports success."""
    kind = _kind(ctx.args.resourcetype)
    rows = _resources(ctx, kind)
    pairs = [(t.get("key", ""), t.get("value", "")) for t in ctx.args.tags]
    if any(not k for k, _ in pairs):
        raise InvalidParameter("Parameter tags: every tag needs a key")
    tags.add(ctx, kind, rows, pairs)
    return Pending("None", "", with_id=False)


@api(
    "deleteTags",
    "Deletes tags from resources",
    "success",
    TARGET
    + [
        Param("tags", "map", description="the tags to delete (key, optionally value); all when absent"),
    ],
    is_async=True,
)
def delete_tags(ctx: Ctx) -> Pending:
    """Remove matching tags of the named resources."""
    kind = _kind(ctx.args.resourcetype)
    rows = _resources(ctx, kind)
    tags.remove(ctx, kind, rows, ctx.args.tags or [])
    return Pending("None", "", with_id=False)


@api(
    "listTags",
    "Lists tags",
    "tag",
    [
        Param("resourcetype", description="the resource type"),
        Param("resourceid", description="the resource"),
        Param("key", description="the key"),
        Param("value", description="the value"),
        Param("customer", description="unused"),
        Param("account", description="the account"),
        Param("domainid", "uuid", description="the domain"),
        Param("isrecursive", "boolean", description="subdomains"),
    ],
    paged=True,
)
def list_tags(ctx: Ctx) -> dict[str, Any]:
    """The tags the caller may see."""
    a = ctx.args
    stmt = ctx.scope(select(ResourceTag), ResourceTag)
    if a.resourcetype:
        stmt = stmt.where(ResourceTag.resourcetype == _kind(a.resourcetype))
    for param, col in (
        ("resourceid", ResourceTag.resource_uuid),
        ("key", ResourceTag.key),
        ("value", ResourceTag.value),
    ):
        if a.get(param):
            stmt = stmt.where(col == a[param])
    rows, count = ctx.page(stmt, ResourceTag, keyword=("key", "value"))
    return list_body("tag", [tag_view(ctx, t) for t in rows], count)
