"""Resource limits per account and domain, with counts computed from the live data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select
from virga.errors import LimitExceeded
from virga.models import (
    Account,
    Domain,
    Network,
    PublicIpAddress,
    ResourceLimit,
    Snapshot,
    Template,
    VirtualMachine,
    Volume,
)
from virga.services.states import IpState, VmState, VolumeState

TYPES = {
    0: "user_vm",
    1: "public_ip",
    2: "volume",
    3: "snapshot",
    4: "template",
    5: "project",
    6: "network",
    7: "vpc",
    8: "cpu",
    9: "memory",
    10: "primary_storage",
    11: "secondary_storage",
}
BY_NAME = {v: k for k, v in TYPES.items()}
LIVE_VM = tuple(
    str(s)
    for s in (VmState.STARTING, VmState.RUNNING, VmState.STOPPING, VmState.STOPPED, VmState.MIGRATING, VmState.ERROR)
)


def _scalar(s: Session, stmt: object) -> int:
    """Run a scalar aggregate and return it as an int (0 for null)."""
    return int(s.exec(stmt).one() or 0)  # type: ignore[call-overload]


def _vm_sum(column: object) -> Callable[[Session, list[int]], int]:
    """A counter summing a column of the live VMs of some accounts."""

    def count(s: Session, ids: list[int]) -> int:
        return _scalar(
            s,
            select(func.sum(column)).where(
                col(VirtualMachine.account_id).in_(ids),
                VirtualMachine.removed == None,
                col(VirtualMachine.state).in_(LIVE_VM),
            ),
        )

    return count


def _count(model: Any, *extra: Any) -> Callable[[Session, list[int]], int]:
    """A counter of live rows of a model for some accounts."""

    def count(s: Session, ids: list[int]) -> int:
        return _scalar(
            s, select(func.count()).select_from(model).where(model.account_id.in_(ids), model.removed == None, *extra)
        )

    return count


# a volume kept on secondary storage
UPLOAD_STATES = tuple(
    str(s)
    for s in (VolumeState.NOT_UPLOADED, VolumeState.UPLOAD_IN_PROGRESS, VolumeState.UPLOADED, VolumeState.UPLOAD_ERROR)
)
COUNTERS: dict[int, Callable[[Session, list[int]], int]] = {
    0: _count(VirtualMachine, col(VirtualMachine.state).in_(LIVE_VM)),
    1: _count(PublicIpAddress, PublicIpAddress.state == IpState.ALLOCATED),
    2: _count(Volume),
    3: _count(Snapshot),
    4: _count(Template),
    6: _count(Network),
    8: _vm_sum(VirtualMachine.cpunumber),
    9: _vm_sum(VirtualMachine.memory),
    10: lambda s, ids: (
        _scalar(
            s, select(func.sum(col(Volume.size))).where(col(Volume.account_id).in_(ids), col(Volume.removed) == None)
        )
        // 2**30
    ),
    11: lambda s, ids: _secondary_gib(s, ids),
}


def _secondary_gib(s: Session, ids: list[int]) -> int:
    """GiB an account keeps on secondary storage: its templates/ISOs and its uploaded volumes."""
    tmpl = _scalar(
        s,
        select(func.sum(col(Template.physicalsize))).where(
            col(Template.account_id).in_(ids), col(Template.removed) == None
        ),
    )
    vols = _scalar(
        s,
        select(func.sum(Volume.physicalsize)).where(
            col(Volume.account_id).in_(ids),
            Volume.removed == None,
            col(Volume.state).in_(UPLOAD_STATES),
        ),
    )
    return (tmpl + vols) // 2**30


def count(s: Session, account_ids: list[int], rtype: int) -> int:
    """How much of a resource type some accounts use now."""
    counter = COUNTERS.get(rtype)
    return counter(s, account_ids) if counter else 0


def limit_of(s: Session, rtype: int, account: Account | None = None, domain: Domain | None = None) -> int:
    """The limit for an account or a domain; -1 when unlimited."""
    stmt = select(ResourceLimit).where(ResourceLimit.resourcetype == rtype, ResourceLimit.removed == None)
    if account is not None:
        stmt = stmt.where(ResourceLimit.account_id == account.id)
    else:
        stmt = stmt.where(ResourceLimit.domain_id == (domain.id if domain else None))
    row = s.exec(stmt).first()
    return row.max if row is not None else -1


def check(s: Session, account: Account, rtype: int, add: int = 1) -> None:
    """Raise 532 when adding `add` would exceed the account's or one of its domains' limits."""
    if account.accounttype == 1 or add <= 0:
        return
    limit = limit_of(s, rtype, account=account)
    if limit != -1 and count(s, [account.id or 0], rtype) + add > limit:
        raise LimitExceeded(
            f"Maximum number of resources of type '{TYPES[rtype]}' for account name="
            f"{account.name} has been exceeded (limit {limit})."
        )
    dom = s.get(Domain, account.domain_id)
    while dom is not None:
        dlimit = limit_of(s, rtype, domain=dom)
        if dlimit != -1:
            ids = list(
                s.exec(
                    select(Account.id)
                    .join(Domain, col(Domain.id) == Account.domain_id)
                    .where(Domain.path.startswith(dom.path))
                )
            )
            if count(s, [i for i in ids if i is not None], rtype) + add > dlimit:
                raise LimitExceeded(
                    f"Maximum number of resources of type '{TYPES[rtype]}' for domain "
                    f"{dom.name} has been exceeded (limit {dlimit})."
                )
        dom = s.get(Domain, dom.parent_id) if dom.parent_id else None


def set_limit(s: Session, rtype: int, value: int, *, account: Account | None, domain: Domain) -> ResourceLimit:
    """updateResourceLimit: an account's limit (account given) or a domain's (-1: unlimited)."""
    stmt = select(ResourceLimit).where(ResourceLimit.resourcetype == rtype, ResourceLimit.removed == None)
    stmt = (
        stmt.where(ResourceLimit.account_id == account.id)
        if account
        else stmt.where(ResourceLimit.domain_id == domain.id, ResourceLimit.account_id == None)
    )
    row = s.exec(stmt).first() or ResourceLimit(
        resourcetype=rtype, account_id=account.id if account else None, domain_id=None if account else domain.id
    )
    row.max = value
    s.add(row)
    return row
