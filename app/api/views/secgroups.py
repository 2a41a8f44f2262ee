"""The securitygroup response object (with its ingress and egress rules)."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from virga.api.response import clean
from virga.api.views.common import owner
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.models import Account, SecurityGroup, SecurityGroupRule, SecurityGroupVm, VirtualMachine

FIELDS.update(
    {
        "securitygroup": "id name description ingressrule egressrule virtualmachinecount "
        "virtualmachineids tags account domainid domain domainpath"
    }
)


def sg_rule_view(ctx: Ctx, r: SecurityGroupRule) -> dict[str, Any]:
    """An ingressrule/egressrule object."""
    peer = ctx.by_id(SecurityGroup, int(r.usersecuritygroup)) if r.usersecuritygroup else None
    peer_account = ctx.by_id(Account, peer.account_id) if peer else None
    return clean(
        {
            "ruleid": r.uuid,
            "protocol": r.protocol,
            "startport": r.startport,
            "endport": r.endport,
            "icmptype": r.icmptype,
            "icmpcode": r.icmpcode,
            "cidr": r.cidr or None,
            "securitygroupname": peer.name if peer else None,
            "account": peer_account.name if peer_account else None,
            "tags": [],
        }
    )


def sg_view(ctx: Ctx, g: SecurityGroup) -> dict[str, Any]:
    """A securitygroup response object."""
    rules = list(
        ctx.db.exec(
            select(SecurityGroupRule)
            .where(SecurityGroupRule.securitygroup_id == g.id, SecurityGroupRule.removed == None)
            .order_by(col(SecurityGroupRule.id))
        )
    )
    vms = list(
        ctx.db.exec(
            select(VirtualMachine.uuid)
            .join(SecurityGroupVm, col(SecurityGroupVm.vm_id) == VirtualMachine.id)
            .where(
                SecurityGroupVm.securitygroup_id == g.id,
                SecurityGroupVm.removed == None,
                VirtualMachine.removed == None,
            )
        )
    )
    return clean(
        {
            "id": g.uuid,
            "name": g.name,
            "description": g.description or None,
            "ingressrule": [sg_rule_view(ctx, r) for r in rules if r.type == "ingress"],
            "egressrule": [sg_rule_view(ctx, r) for r in rules if r.type == "egress"],
            "virtualmachinecount": len(vms),
            "virtualmachineids": vms,
            "tags": [],
            **owner(ctx, g),
        }
    )


def sg_views(ctx: Ctx, rows: list[SecurityGroup]) -> list[dict[str, Any]]:
    """Security groups (job results)."""
    return [sg_view(ctx, g) for g in rows]


RENDERERS = {SecurityGroup: ("securitygroup", sg_views)}
