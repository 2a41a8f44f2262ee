"""Security groups of shared networks: groups, ingress/egress rules, applied as bridge filtering per VM NIC."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select
from virga.api.dispatch import Pending
from virga.api.registry import Param, api
from virga.api.response import clean, list_body
from virga.api.views.common import owner, preload_owners
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.errors import InUse, InvalidParameter
from virga.jobs.engine import JobRun, job_body
from virga.models import (
    Account,
    Network,
    NetworkOffering,
    Nic,
    SecurityGroup,
    SecurityGroupRule,
    SecurityGroupVm,
    VirtualMachine,
    utcnow,
)
from virga.services import rules as svc
from virga.services.network import sync_router

FIELDS.update(
    {
        "securitygroup": "id name description ingressrule egressrule virtualmachinecount "
        "virtualmachineids tags account domainid domain domainpath"
    }
)


def _rule_view(ctx: Ctx, r: SecurityGroupRule) -> dict[str, Any]:
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
            .order_by(SecurityGroupRule.id)
        )
    )
    vms = list(
        ctx.db.exec(
            select(VirtualMachine.uuid)
            .join(SecurityGroupVm, SecurityGroupVm.vm_id == VirtualMachine.id)
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
            "ingressrule": [_rule_view(ctx, r) for r in rules if r.type == "ingress"],
            "egressrule": [_rule_view(ctx, r) for r in rules if r.type == "egress"],
            "virtualmachinecount": len(vms),
            "virtualmachineids": vms,
            "tags": [],
            **owner(ctx, g),
        }
    )


@api(
    "createSecurityGroup",
    "Creates a security group",
    "securitygroup",
    [
        Param("name", required=True, description="the name"),
        Param("description", description="a description"),
        Param("account", description="the owner account (admins)"),
        Param("domainid", "uuid", description="its domain"),
        Param("projectid", "uuid", description="unused"),
    ],
)
def create_group(ctx: Ctx) -> dict[str, Any]:
    """Record a group; names are unique per account."""
    account, domain = ctx.owner()
    svc.default_group(ctx.db, account.id or 0, domain.id or 0)
    if ctx.db.exec(
        select(SecurityGroup).where(
            SecurityGroup.account_id == account.id, SecurityGroup.name == ctx.args.name, SecurityGroup.removed == None
        )
    ).first():
        raise InvalidParameter(f"Security group {ctx.args.name} already exists for account {account.name}")
    group = SecurityGroup(
        name=ctx.args.name, description=ctx.args.description or "", account_id=account.id or 0, domain_id=domain.id or 0
    )
    ctx.db.add(group)
    ctx.db.flush()
    return {"securitygroup": sg_view(ctx, group)}


def _group(ctx: Ctx, id_param: str = "id", name_param: str = "name") -> SecurityGroup:
    """A group by id or by name (of the caller's or the given account), which the caller may change."""
    if ctx.args.get(id_param):
        group = ctx.get(SecurityGroup, ctx.args[id_param], id_param)
    elif ctx.args.get(name_param):
        account, _ = ctx.owner()
        svc.default_group(ctx.db, account.id or 0, account.domain_id)
        group = ctx.db.exec(
            select(SecurityGroup).where(
                SecurityGroup.account_id == account.id,
                SecurityGroup.name == ctx.args[name_param],
                SecurityGroup.removed == None,
            )
        ).first()
        if group is None:
            raise InvalidParameter(f"Unable to find security group {ctx.args[name_param]} (parameter {name_param})")
    else:
        raise InvalidParameter(f"Parameter {id_param} or {name_param} is required")
    ctx.require(group, f"security group {group.name}")
    return group


@api(
    "deleteSecurityGroup",
    "Deletes a security group",
    "success",
    [
        Param("id", "uuid", description="the group"),
        Param("name", description="its name"),
        Param("account", description="the account"),
        Param("domainid", "uuid", description="its domain"),
        Param("projectid", "uuid", description="unused"),
    ],
)
def delete_group(ctx: Ctx) -> dict[str, Any]:
    """Remove an unused, non-default group."""
    group = _group(ctx)
    if group.name == "default":
        raise InvalidParameter("The default security group cannot be removed")
    used = ctx.db.exec(
        select(SecurityGroupVm.id)
        .join(VirtualMachine, VirtualMachine.id == SecurityGroupVm.vm_id)
        .where(
            SecurityGroupVm.securitygroup_id == group.id,
            SecurityGroupVm.removed == None,
            VirtualMachine.removed == None,
        )
    ).first()
    if used is not None:
        raise InUse(f"Security group {group.name} is in use by VMs")
    now = utcnow()
    group.removed = now
    for r in ctx.db.exec(select(SecurityGroupRule).where(SecurityGroupRule.securitygroup_id == group.id)):
        r.removed = now
        ctx.db.add(r)
    ctx.db.add(group)
    return {"success": True}


@api(
    "listSecurityGroups",
    "Lists security groups",
    "securitygroup",
    [
        Param("id", "uuid", description="the group"),
        Param("securitygroupname", description="the name"),
        Param("virtualmachineid", "uuid", description="groups of a VM"),
        Param("account", description="the account"),
        Param("domainid", "uuid", description="the domain"),
        Param("isrecursive", "boolean", description="subdomains"),
        Param("tags", "map", description="tags"),
        Param("projectid", "uuid", description="unused"),
    ],
    paged=True,
)
def list_groups(ctx: Ctx) -> dict[str, Any]:
    """List groups (the caller's "default" group is created on first use)."""
    a = ctx.args
    if not a.account and not a.domainid:
        svc.default_group(ctx.db, ctx.account.id or 0, ctx.domain.id or 0)
    stmt = ctx.scope(select(SecurityGroup), SecurityGroup)
    if a.securitygroupname:
        stmt = stmt.where(SecurityGroup.name == a.securitygroupname)
    if a.virtualmachineid:
        vm = ctx.get(VirtualMachine, a.virtualmachineid, "virtualmachineid")
        stmt = stmt.where(
            SecurityGroup.id.in_(
                select(SecurityGroupVm.securitygroup_id).where(  # type: ignore[union-attr]
                    SecurityGroupVm.vm_id == vm.id, SecurityGroupVm.removed == None
                )
            )
        )
    rows, count = ctx.page(stmt, SecurityGroup, keyword=("name", "description"))
    preload_owners(ctx, rows)
    return list_body("securitygroup", [sg_view(ctx, g) for g in rows], count)


def _peer_groups(ctx: Ctx, owner_account: int) -> list[SecurityGroup]:
    """Groups named by usersecuritygrouplist[i].account/.group (same domain tree as the caller)."""
    out = []
    for item in ctx.args.usersecuritygrouplist or []:
        acct = ctx.db.exec(
            select(Account).where(Account.name == item.get("account", ""), Account.removed == None)
        ).first()
        group = (
            ctx.db.exec(
                select(SecurityGroup).where(
                    SecurityGroup.account_id == (acct.id if acct else owner_account),
                    SecurityGroup.name == item.get("group"),
                    SecurityGroup.removed == None,
                )
            ).first()
            if item.get("group")
            else None
        )
        if group is None or not ctx.can_see(group) and group.account_id != owner_account:
            raise InvalidParameter(
                f"Unable to find security group {item.get('group')!r} of account "
                f"{item.get('account')!r} (parameter usersecuritygrouplist)"
            )
        out.append(group)
    return out


AUTH_PARAMS = [
    Param("securitygroupid", "uuid", description="the group"),
    Param("securitygroupname", description="its name"),
    Param("protocol", description="tcp, udp, icmp or all (default tcp)"),
    Param("startport", "integer", description="first port"),
    Param("endport", "integer", description="last port"),
    Param("icmptype", "integer", description="ICMP type"),
    Param("icmpcode", "integer", description="ICMP code"),
    Param("cidrlist", "list", description="peer CIDRs"),
    Param("usersecuritygrouplist", "map", description="peer groups: account and group"),
    Param("account", description="the account"),
    Param("domainid", "uuid", description="its domain"),
    Param("projectid", "uuid", description="unused"),
]


def _authorize(ctx: Ctx, kind: str) -> Pending:
    """Validate and record ingress/egress rules; the job applies every shared network the group touches."""
    group = _group(ctx, "securitygroupid", "securitygroupname")
    proto = svc.protocol(ctx.args.protocol or "tcp")
    start, end = svc.rule_ports(ctx, proto)
    icmp = (svc.icmp(ctx.args.icmptype, "icmptype", proto), svc.icmp(ctx.args.icmpcode, "icmpcode", proto))
    peers = _peer_groups(ctx, group.account_id)
    if not ctx.args.cidrlist and not peers:
        raise InvalidParameter("Parameter cidrlist or usersecuritygrouplist is required")
    made = []
    targets: list[tuple[str, str]] = [("cidr", c) for c in svc.cidrs(ctx.args.cidrlist, default="").split(",") if c]
    targets += [("group", str(p.id)) for p in peers]
    for what, value in targets:
        rule = SecurityGroupRule(
            securitygroup_id=group.id or 0,
            type=kind,
            protocol=proto,
            startport=start,
            endport=end,
            icmptype=icmp[0],
            icmpcode=icmp[1],
            cidr=value if what == "cidr" else "",
            usersecuritygroup=value if what == "group" else "",
        )
        ctx.db.add(rule)
        made.append(rule)
    ctx.db.flush()
    return Pending("SecurityGroup", group.uuid, {"rules": [r.id for r in made]})


@api(
    "authorizeSecurityGroupIngress",
    "Allows traffic into the VMs of a security group",
    "securitygroup",
    AUTH_PARAMS,
    is_async=True,
)
def authorize_ingress(ctx: Ctx) -> Pending:
    """Record ingress rules."""
    return _authorize(ctx, "ingress")


@api(
    "authorizeSecurityGroupEgress",
    "Allows traffic out of the VMs of a security group",
    "securitygroup",
    AUTH_PARAMS,
    is_async=True,
)
def authorize_egress(ctx: Ctx) -> Pending:
    """Record egress rules."""
    return _authorize(ctx, "egress")


def networks_of_group(s: Session, group_id: int) -> list[int]:
    """Shared networks with security groups holding NICs of the group's VMs."""
    ids = set(
        s.exec(
            select(Nic.network_id)
            .join(SecurityGroupVm, SecurityGroupVm.vm_id == Nic.vm_id)
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


async def _apply_group(run: JobRun, group_id: int, rule_ids: list[int], removed: bool) -> None:
    """Apply every affected network; on failure flip the rules back (removed or live) and re-apply."""

    def revert(s: Session) -> None:
        for r in s.exec(select(SecurityGroupRule).where(SecurityGroupRule.id.in_(rule_ids))):  # type: ignore[union-attr]
            r.removed = None if removed else utcnow()
            s.add(r)

    with run.db() as s:
        nets = networks_of_group(s, group_id)
    for i, net_id in enumerate(nets):
        if i == 0:
            await svc.settle(run, net_id, revert)
        else:
            await sync_router(run.app, net_id)


@job_body("authorizeSecurityGroupIngress")
async def authorize_ingress_body(run: JobRun) -> dict[str, Any]:
    """Apply new ingress rules."""
    return await _authorized(run)


@job_body("authorizeSecurityGroupEgress")
async def authorize_egress_body(run: JobRun) -> dict[str, Any]:
    """Apply new egress rules."""
    return await _authorized(run)


async def _authorized(run: JobRun) -> dict[str, Any]:
    """Apply the group's networks with the new rules; the result is the group."""
    with run.db() as s:
        group = s.exec(select(SecurityGroup).where(SecurityGroup.uuid == run.instance_uuid)).one()
    await _apply_group(run, group.id or 0, run.params["rules"], removed=False)
    with run.ctx() as ctx:
        return {"securitygroup": sg_view(ctx, ctx.db.get(SecurityGroup, group.id))}  # type: ignore[arg-type]


def _revoke(ctx: Ctx, kind: str) -> Pending:
    """Mark a rule removed; the job applies (and restores the rule when applying fails)."""
    rule = ctx.get(SecurityGroupRule, ctx.args.id)
    group = ctx.db.get(SecurityGroup, rule.securitygroup_id)
    if group is None or not ctx.can_see(group):
        raise InvalidParameter(f"Unable to find security group rule with id {ctx.args.id} (parameter id)")
    if rule.type != kind:
        raise InvalidParameter(f"Rule {rule.uuid} is an {rule.type} rule (parameter id)")
    ctx.require(group, f"security group {group.name}")
    rule.removed = utcnow()
    ctx.db.add(rule)
    return Pending("SecurityGroup", group.uuid, {"rules": [rule.id]})


@api(
    "revokeSecurityGroupIngress",
    "Removes an ingress rule of a security group",
    "success",
    [Param("id", "uuid", required=True, description="the rule")],
    is_async=True,
)
def revoke_ingress(ctx: Ctx) -> Pending:
    """Revoke an ingress rule."""
    return _revoke(ctx, "ingress")


@api(
    "revokeSecurityGroupEgress",
    "Removes an egress rule of a security group",
    "success",
    [Param("id", "uuid", required=True, description="the rule")],
    is_async=True,
)
def revoke_egress(ctx: Ctx) -> Pending:
    """Revoke an egress rule."""
    return _revoke(ctx, "egress")


async def _revoked(run: JobRun) -> dict[str, Any]:
    """Apply the group's networks without the rule."""
    with run.db() as s:
        group = s.exec(select(SecurityGroup).where(SecurityGroup.uuid == run.instance_uuid)).one()
    await _apply_group(run, group.id or 0, run.params["rules"], removed=True)
    return {"success": True}


job_body("revokeSecurityGroupIngress")(_revoked)
job_body("revokeSecurityGroupEgress")(_revoked)
