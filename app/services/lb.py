"""Load balancer rules, their members and health check policies: records and apply-or-undo jobs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select
from virga.jobs.engine import JobRun, Ref, Restart, job_body, job_recover
from virga.models import LoadBalancerMember, LoadBalancerRule, utcnow
from virga.services.rules import create_job, delete_job, recover_fields, resync, set_fields, settle
from virga.services.states import RuleState

if TYPE_CHECKING:
    from virga.context import Ctx


@dataclass(frozen=True)
class HealthCheckPolicy:
    """A job result: the health check policy of a load balancer rule (rendered as healthcheckpolicies)."""

    rule_uuid: str


def create_rule(ctx: Ctx, fields: dict[str, Any]) -> LoadBalancerRule:
    """Record a checked load balancer rule (Add: its job applies it)."""
    rule = LoadBalancerRule(state=RuleState.ADD, **fields)
    ctx.db.add(rule)
    ctx.db.flush()
    return rule


_createLoadBalancerRule_job = create_job("createLoadBalancerRule", LoadBalancerRule)
_deleteLoadBalancerRule_job = delete_job("deleteLoadBalancerRule", LoadBalancerRule)


def _lb_row(s: Session, uuid: str) -> LoadBalancerRule:
    """A rule by uuid."""
    return s.exec(select(LoadBalancerRule).where(LoadBalancerRule.uuid == uuid)).one()


def _set_removed(s: Session, ids: list[int], removed: bool) -> None:
    """Mark member rows removed (or live again)."""
    for r in s.exec(select(LoadBalancerMember).where(col(LoadBalancerMember.id).in_(ids))):
        r.removed = utcnow() if removed else None
        s.add(r)


@job_body("assignToLoadBalancerRule", restart=Restart.RECONCILE)
async def assign_body(run: JobRun) -> dict[str, Any]:
    """Add member rows and apply; remove them again on failure."""
    with run.db() as s:
        rule = _lb_row(s, run.instance_uuid)
        rows = [
            LoadBalancerMember(rule_id=rule.id or 0, vm_id=int(m.split(":")[0]), vmip=m.split(":", 1)[1])
            for m in run.params["add"]
        ]
        s.add_all(rows)
        s.commit()
        ids, net_id = [r.id or 0 for r in rows], rule.network_id
    await settle(run, net_id, lambda s: _set_removed(s, ids, True))
    return {"success": True}


@job_recover("assignToLoadBalancerRule")
async def recover_assign(run: JobRun) -> None:
    """The server died while adding members: remove the ones this job added (none were live before), re-apply."""
    vm_ids = [int(m.split(":")[0]) for m in run.params["add"]]
    with run.db() as s:
        rule = _lb_row(s, run.instance_uuid)
        live = s.exec(
            select(LoadBalancerMember.id).where(
                LoadBalancerMember.rule_id == rule.id,
                col(LoadBalancerMember.vm_id).in_(vm_ids),
                LoadBalancerMember.removed == None,
            )
        ).all()
        _set_removed(s, [i for i in live if i is not None], True)
        s.commit()
        net_id = rule.network_id
    await resync(run.app, net_id)


@job_body("removeFromLoadBalancerRule", restart=Restart.RECONCILE)
async def remove_body(run: JobRun) -> dict[str, Any]:
    """Mark member rows removed and apply; restore them on failure."""
    with run.db() as s:
        rule = _lb_row(s, run.instance_uuid)
        rows = list(
            s.exec(
                select(LoadBalancerMember).where(
                    LoadBalancerMember.rule_id == rule.id,
                    col(LoadBalancerMember.vm_id).in_(run.params["remove"]),
                    LoadBalancerMember.removed == None,
                )
            )
        )
        ids, net_id = [r.id or 0 for r in rows], rule.network_id
        _set_removed(s, ids, True)
        s.commit()
    await settle(run, net_id, lambda s: _set_removed(s, ids, False))
    return {"success": True}


@job_recover("removeFromLoadBalancerRule")
async def recover_remove(run: JobRun) -> None:
    """The server died while removing members: each VM without a live member row gets its last one back."""
    with run.db() as s:
        rule = _lb_row(s, run.instance_uuid)
        back = []
        for vm_id in run.params["remove"]:
            rows = s.exec(
                select(LoadBalancerMember)
                .where(LoadBalancerMember.rule_id == rule.id, LoadBalancerMember.vm_id == vm_id)
                .order_by(col(LoadBalancerMember.id).desc())
            ).all()
            if rows and rows[0].removed is not None:
                back.append(rows[0].id or 0)
        _set_removed(s, back, False)
        s.commit()
        net_id = rule.network_id
    await resync(run.app, net_id)


@job_body("updateLoadBalancerRule", restart=Restart.RECONCILE)
async def update_body(run: JobRun) -> Ref:
    """Apply the changed rule."""
    await set_fields(run, LoadBalancerRule, run.params["change"])
    return Ref(LoadBalancerRule, run.instance_uuid)


@job_body("createLBHealthCheckPolicy", restart=Restart.RECONCILE)
async def create_hc_body(run: JobRun) -> Ref:
    """Apply the rule with its health check."""
    await set_fields(run, LoadBalancerRule, run.params["change"])
    return Ref(HealthCheckPolicy, HealthCheckPolicy(run.instance_uuid))


@job_body("deleteLBHealthCheckPolicy", restart=Restart.RECONCILE)
async def delete_hc_body(run: JobRun) -> dict[str, Any]:
    """Apply the rule without its health check."""
    await set_fields(run, LoadBalancerRule, run.params["change"])
    return {"success": True}


_change_recover = recover_fields(LoadBalancerRule)
for _command in ("updateLoadBalancerRule", "createLBHealthCheckPolicy", "deleteLBHealthCheckPolicy"):
    job_recover(_command)(_change_recover)
