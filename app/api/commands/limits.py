"""Resource limits and counts of accounts and domains."""

from __future__ import annotations

from typing import Any

from virga.api.registry import ADMINS, Param, api
from virga.api.response import list_body
from virga.api.views.limits import account_ids_of, count_view, limit_view
from virga.context import Ctx
from virga.errors import InvalidParameter, PermissionDenied
from virga.models import Account, Domain
from virga.services import limits


def _rtype(value: Any) -> int:
    """A resource type by number (0-11) or name."""
    text = str(value).strip().lower()
    if text.isdigit() and int(text) in limits.TYPES:
        return int(text)
    if text in limits.BY_NAME:
        return limits.BY_NAME[text]
    raise InvalidParameter(f"Parameter resourcetype must be 0-11 or a type name ({', '.join(limits.BY_NAME)})")


def _target(ctx: Ctx) -> tuple[Account | None, Domain]:
    """The account (account+domainid) or domain (domainid) a limit call is about; default the caller's account."""
    a = ctx.args
    if a.account:
        acct, dom = ctx.owner()
        return acct, dom
    if a.domainid:
        dom = ctx.get(Domain, a.domainid, "domainid")
        return None, dom
    return ctx.account, ctx.domain


@api(
    "updateResourceLimit",
    "Sets the limit of a resource type for an account or a domain",
    "resourcelimit",
    [
        Param(
            "resourcetype",
            required=True,
            description="0 VMs, 1 public IPs, 2 volumes, 3 snapshots, 4 templates, "
            "5 projects, 6 networks, 7 VPCs, 8 CPUs, 9 memory (MB), 10 primary storage (GB), 11 secondary (GB)",
        ),
        Param("max", "long", description="the limit; -1 for unlimited"),
        Param("account", description="the account (with domainid)"),
        Param("domainid", "uuid", description="the domain"),
        Param("projectid", "uuid", description="unused"),
    ],
    roles=ADMINS,
)
def update_limit(ctx: Ctx) -> dict[str, Any]:
    """Record a limit; domain admins may set limits below their own domain only."""
    rtype = _rtype(ctx.args.resourcetype)
    value = ctx.args.max if ctx.args.max is not None else -1
    if value < -1:
        raise InvalidParameter("Parameter max must be -1 (unlimited) or more")
    if not ctx.args.account and not ctx.args.domainid:
        raise InvalidParameter("Parameter domainid (and account for an account's limit) is required")
    acct, dom = _target(ctx)
    ctx.require(acct or dom, f"domain {dom.name}")
    if not ctx.is_root and (
        acct is None and dom.path == ctx.domain.path or acct is not None and acct.id == ctx.account.id
    ):
        raise PermissionDenied("Domain administrators cannot change the limits of their own domain or account")
    limits.set_limit(ctx.db, rtype, value, account=acct, domain=dom)
    return {"resourcelimit": limit_view(ctx, rtype, value, acct, dom)}


@api(
    "listResourceLimits",
    "Lists the resource limits of an account or a domain",
    "resourcelimit",
    [
        Param("resourcetype", description="one type (0-11)"),
        Param("resourcetypename", description="one type by name"),
        Param("account", description="the account"),
        Param("domainid", "uuid", description="the domain"),
        Param("id", "long", description="unused"),
        Param("isrecursive", "boolean", description="unused"),
    ],
    paged=True,
)
def list_limits(ctx: Ctx) -> dict[str, Any]:
    """Every type's limit (-1 unlimited) for the caller's account, or an account or domain they manage."""
    if ctx.role == "User" and (ctx.args.domainid and not ctx.args.account):
        raise PermissionDenied("Users may only list their own account's limits")
    acct, dom = _target(ctx)
    ctx.require(acct or dom, f"domain {dom.name}")
    kinds = list(limits.TYPES)
    if ctx.args.resourcetype is not None or ctx.args.resourcetypename:
        kinds = [_rtype(ctx.args.resourcetype if ctx.args.resourcetype is not None else ctx.args.resourcetypename)]
    out = [
        limit_view(
            ctx,
            k,
            limits.limit_of(ctx.db, k, account=acct) if acct else limits.limit_of(ctx.db, k, domain=dom),
            acct,
            dom,
        )
        for k in kinds
    ]
    return list_body("resourcelimit", out, len(out))


@api(
    "updateResourceCount",
    "Recalculates and returns the resource counts of an account or a domain",
    "resourcecount",
    [
        Param("domainid", "uuid", required=True, description="the domain"),
        Param("account", description="the account"),
        Param("resourcetype", description="one type (0-11)"),
        Param("projectid", "uuid", description="unused"),
    ],
    roles=ADMINS,
)
def update_count(ctx: Ctx) -> dict[str, Any]:
    """Counts are computed from the live data, so this reports them."""
    acct, dom = _target(ctx)
    ctx.require(acct or dom, f"domain {dom.name}")
    ids = [acct.id or 0] if acct else account_ids_of(ctx, dom)
    kinds = [_rtype(ctx.args.resourcetype)] if ctx.args.resourcetype is not None else list(limits.TYPES)
    out = [count_view(ctx, k, limits.count(ctx.db, ids, k), acct, dom) for k in kinds]
    return list_body("resourcecount", out, len(out))
