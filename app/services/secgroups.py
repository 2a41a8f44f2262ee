"""Security groups of shared networks: groups and rules recorded, applied on every network they touch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select
from virga.jobs.engine import JobRun, Ref, Restart, job_body, job_recover
from virga.models import Network, NetworkOffering, Nic, SecurityGroup, SecurityGroupRule, SecurityGroupVm, utcnow
from virga.services.network import sync_router
from virga.services.rules import resync, settle

if TYPE_CHECKING:
    from virga.context import Ctx


def create_group(ctx: Ctx, name: str, description: str, account_id: int, domain_id: int) -> SecurityGroup:
    """Record a group."""
    group = SecurityGroup(name=name, description=description, account_id=account_id, domain_id=domain_id)
    ctx.db.add(group)
    ctx.db.flush()
    return group


def delete_group(ctx: Ctx, group: SecurityGroup) -> None:
    """Mark a group and its rules removed."""
    now = utcnow()
    group.removed = now
    for r in ctx.db.exec(select(SecurityGroupRule).where(SecurityGroupRule.securitygroup_id == group.id)):
        r.removed = now
        ctx.db.add(r)
    ctx.db.add(group)


def add_rules(ctx: Ctx, group: SecurityGroup, fields: dict[str, Any], targets: list[tuple[str, str]]) -> list[int]:
    """Record one rule per target (("cidr", CIDR) or ("group", peer group id)); their ids."""
    made = []
    for what, value in targets:
        rule = SecurityGroupRule(
            securitygroup_id=group.id or 0,
            cidr=value if what == "cidr" else "",
            usersecuritygroup=value if what == "group" else "",
            **fields,
        )
        ctx.db.add(rule)
        made.append(rule)
    ctx.db.flush()
    return [r.id or 0 for r in made]


def remove_rule(ctx: Ctx, rule: SecurityGroupRule) -> None:
    """Mark a rule removed (its job applies the change)."""
    rule.removed = utcnow()
    ctx.db.add(rule)


def networks_of_group(s: Session, group_id: int) -> list[int]:
    """Shared networks with security groups holding NICs of the group's VMs."""
    ids = set(
        s.exec(
            select(Nic.network_id)
            .join(SecurityGroupVm, col(SecurityGroupVm.vm_id) == Nic.vm_id)
            .where(SecurityGroupVm.securitygroup_id == group_id, SecurityGroupVm.removed == None, Nic.removed == None)
        )
    )
    out = []
    for net_id in sorted(ids):
        net = s.get(Network, net_id)
        off = s.get(NetworkOffering, net.networkoffering_id) if net else None
        if off is not None and "SecurityGroup" in (off.services or {}):
            out.append(net_id)
    return out


def _set_removed(s: Session, rule_ids: list[int], removed: bool) -> None:
    """Mark rules removed (or live again)."""
    for r in s.exec(select(SecurityGroupRule).where(col(SecurityGroupRule.id).in_(rule_ids))):
        r.removed = utcnow() if removed else None
        s.add(r)


async def _apply_group(run: JobRun, group_id: int, rule_ids: list[int], removed: bool) -> None:
    """Apply every affected network; on failure flip the rules back (removed or live) and re-apply."""
    with run.db() as s:
        nets = networks_of_group(s, group_id)
    for i, net_id in enumerate(nets):
        if i == 0:
            await settle(run, net_id, lambda s: _set_removed(s, rule_ids, not removed))
        else:
            await sync_router(run.app, net_id)


def _group_id(run: JobRun) -> int:
    """The internal id of the job's group."""
    with run.db() as s:
        return s.exec(select(SecurityGroup.id).where(SecurityGroup.uuid == run.instance_uuid)).one() or 0


@job_body("authorizeSecurityGroupIngress", restart=Restart.RECONCILE)
@job_body("authorizeSecurityGroupEgress", restart=Restart.RECONCILE)
async def authorized_body(run: JobRun) -> Ref:
    """Apply the group's networks with the new rules; the result is the group."""
    await _apply_group(run, _group_id(run), run.params["rules"], removed=False)
    return Ref(SecurityGroup, run.instance_uuid)


@job_body("revokeSecurityGroupIngress", restart=Restart.RECONCILE)
@job_body("revokeSecurityGroupEgress", restart=Restart.RECONCILE)
async def revoked_body(run: JobRun) -> dict[str, Any]:
    """Apply the group's networks without the rule."""
    await _apply_group(run, _group_id(run), run.params["rules"], removed=True)
    return {"success": True}


async def _reconcile(run: JobRun, removed: bool) -> None:
    """A job died with its server: put its rules back as before the command (removed or live), re-apply."""
    with run.db() as s:
        _set_removed(s, run.params["rules"], removed)
        s.commit()
        nets = networks_of_group(s, _group_id(run))
    for net_id in nets:
        await resync(run.app, net_id)


@job_recover("authorizeSecurityGroupIngress")
@job_recover("authorizeSecurityGroupEgress")
async def recover_authorize(run: JobRun) -> None:
    """The server died while authorizing: the new rules are removed again."""
    await _reconcile(run, removed=True)


@job_recover("revokeSecurityGroupIngress")
@job_recover("revokeSecurityGroupEgress")
async def recover_revoke(run: JobRun) -> None:
    """The server died while revoking: the rule is live again."""
    await _reconcile(run, removed=False)
