"""The resourcelimit and resourcecount response objects, and the limit/total/available figures of
accounts and domains."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from virga.api.response import clean
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.models import Account, Domain
from virga.services import limits

FIELDS.update(
    {
        "resourcelimit": "account domainid domain domainpath resourcetype resourcetypename max",
        "resourcecount": "account domainid domain resourcetype resourcetypename resourcecount",
    }
)


PREFIX = {
    0: "vm",
    1: "ip",
    2: "volume",
    3: "snapshot",
    4: "template",
    5: "project",
    6: "network",
    7: "vpc",
    8: "cpu",
    9: "memory",
    10: "primarystorage",
    11: "secondarystorage",
}
TYPE_NAMES = dict(limits.TYPES)


def account_ids_of(ctx: Ctx, domain: Domain) -> list[int]:
    """Ids of the live accounts of a domain's subtree."""
    stmt = select(col(Account.id)).where(
        col(Account.domain_id).in_(ctx.subtree_ids(domain)), col(Account.removed) == None
    )
    return [i for i in ctx.db.exec(stmt) if i is not None]


def resource_fields(ctx: Ctx, account: Account | None = None, domain: Domain | None = None) -> dict[str, Any]:
    """vmlimit/vmtotal/vmavailable and the like, for an account or a domain's subtree."""
    ids = [account.id or 0] if account is not None else account_ids_of(ctx, domain)  # type: ignore[arg-type]
    out: dict[str, Any] = {}
    for rtype, prefix in PREFIX.items():
        lim = (
            limits.limit_of(ctx.db, rtype, account=account)
            if account
            else limits.limit_of(ctx.db, rtype, domain=domain)
        )
        total = limits.count(ctx.db, ids, rtype)
        out[f"{prefix}limit"] = "Unlimited" if lim == -1 else str(lim)
        out[f"{prefix}total"] = total
        out[f"{prefix}available"] = "Unlimited" if lim == -1 else str(max(0, lim - total))
    return out


def limit_view(ctx: Ctx, rtype: int, value: int, account: Account | None, domain: Domain) -> dict[str, Any]:
    """A resourcelimit response object."""
    return clean(
        {
            "account": account.name if account else None,
            "domainid": domain.uuid,
            "domain": domain.name,
            "domainpath": domain.path,
            "resourcetype": str(rtype),
            "resourcetypename": TYPE_NAMES[rtype],
            "max": value,
        }
    )


def count_view(ctx: Ctx, rtype: int, value: int, account: Account | None, domain: Domain) -> dict[str, Any]:
    """A resourcecount response object."""
    return clean(
        {
            "account": account.name if account else None,
            "domainid": domain.uuid,
            "domain": domain.name,
            "resourcetype": str(rtype),
            "resourcetypename": TYPE_NAMES[rtype],
            "resourcecount": value,
        }
    )
