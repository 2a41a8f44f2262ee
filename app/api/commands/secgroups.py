"""Security groups of shared networks: groups, ingress/egress rules, applied as bridge filtering per VM NIC."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from virga.api.dispatch import Pending
from virga.api.registry import Param, api
from virga.api.response import list_body
from virga.api.views.common import preload_owners
from virga.api.views.secgroups import sg_view
from virga.context import Ctx
from virga.errors import InUse, InvalidParameter
from virga.models import Account, SecurityGroup, SecurityGroupRule, SecurityGroupVm, VirtualMachine
from virga.services import rules as svc
from virga.services import secgroups as sgsvc


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
    group = sgsvc.create_group(ctx, ctx.args.name, ctx.args.description or "", account.id or 0, domain.id or 0)
    return {"securitygroup": sg_view(ctx, group)}


def _group(ctx: Ctx, id_param: str = "id", name_param: str = "name") -> SecurityGroup:
    """A group by id or by name (of the caller's or the given account), which the caller may change."""
    group: SecurityGroup | None
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
        .join(VirtualMachine, col(VirtualMachine.id) == SecurityGroupVm.vm_id)
        .where(
            SecurityGroupVm.securitygroup_id == group.id,
            SecurityGroupVm.removed == None,
            VirtualMachine.removed == None,
        )
    ).first()
    if used is not None:
        raise InUse(f"Security group {group.name} is in use by VMs")
    sgsvc.delete_group(ctx, group)
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
            col(SecurityGroup.id).in_(
                select(SecurityGroupVm.securitygroup_id).where(
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
    targets: list[tuple[str, str]] = [("cidr", c) for c in svc.cidrs(ctx.args.cidrlist, default="").split(",") if c]
    targets += [("group", str(p.id)) for p in peers]
    fields = {"type": kind, "protocol": proto, "startport": start, "endport": end}
    ids = sgsvc.add_rules(ctx, group, fields | {"icmptype": icmp[0], "icmpcode": icmp[1]}, targets)
    return Pending("SecurityGroup", group.uuid, {"rules": ids})


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


def _revoke(ctx: Ctx, kind: str) -> Pending:
    """Mark a rule removed; the job applies (and restores the rule when applying fails)."""
    rule = ctx.get(SecurityGroupRule, ctx.args.id)
    group = ctx.db.get(SecurityGroup, rule.securitygroup_id)
    if group is None or not ctx.can_see(group):
        raise InvalidParameter(f"Unable to find security group rule with id {ctx.args.id} (parameter id)")
    if rule.type != kind:
        raise InvalidParameter(f"Rule {rule.uuid} is an {rule.type} rule (parameter id)")
    ctx.require(group, f"security group {group.name}")
    sgsvc.remove_rule(ctx, rule)
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
