"""Load balancer rules, their members and health check policies (applied by haproxy on the router)."""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import col, select
from virga.api.dispatch import Pending
from virga.api.registry import Param, api
from virga.api.response import list_body
from virga.api.views.common import preload_owners
from virga.api.views.lb import hc_view, lb_view
from virga.api.views.vm import VmBatch
from virga.context import Ctx
from virga.errors import InvalidParameter
from virga.models import LoadBalancerMember, LoadBalancerRule, Network, PublicIpAddress, VirtualMachine, new_uuid
from virga.services import lb as lbsvc
from virga.services import rules as svc

ALGORITHMS = ("roundrobin", "leastconn", "source")
NAME = re.compile(r"^[^\x00-\x1f]{1,255}$")


@api(
    "createLoadBalancerRule",
    "Creates a load balancer rule on a public IP",
    "loadbalancer",
    [
        Param("publicipid", "uuid", description="the public IP"),
        Param("name", required=True, description="the name"),
        Param("algorithm", required=True, description="roundrobin, leastconn or source"),
        Param("privateport", "integer", required=True, description="the members' port"),
        Param("publicport", "integer", required=True, description="the public port"),
        Param("protocol", description="tcp (default)"),
        Param("description", description="a description"),
        Param("networkid", "uuid", description="the guest network"),
        Param("zoneid", "uuid", description="unused"),
        Param("openfirewall", "boolean", description="open the public port (default true)"),
        Param("cidrlist", "list", description="source CIDRs"),
        Param("account", description="unused"),
        Param("domainid", "uuid", description="unused"),
        Param("fordisplay", "boolean", description="unused"),
    ],
    is_async=True,
)
def create_lb(ctx: Ctx) -> Pending:
    """Validate, detect conflicts (537) and record the rule (Add); the job applies it."""
    a = ctx.args
    if not a.publicipid:
        raise InvalidParameter("Parameter publicipid is required")
    ip, net = svc.owned_ip(ctx, a.publicipid, "publicipid")
    if a.networkid and ctx.get(Network, a.networkid, "networkid").id != net.id:
        raise InvalidParameter(f"Parameter networkid is not the network of public IP {ip.ipaddress}")
    algorithm = (a.algorithm or "").lower()
    if algorithm not in ALGORITHMS:
        raise InvalidParameter(f"Parameter algorithm must be one of {', '.join(ALGORITHMS)}")
    if not NAME.match(a.name):
        raise InvalidParameter("Parameter name has control characters")
    proto = svc.protocol(a.protocol or "tcp", allowed=("tcp",))
    pub = svc.port(a.publicport, "publicport") or 0
    priv = svc.port(a.privateport, "privateport") or 0
    svc.check_claim(ctx.db, ip, proto, pub, pub)
    fields = {
        "name": a.name,
        "description": a.description or "",
        "ipaddress_id": ip.id or 0,
        "network_id": net.id or 0,
        "algorithm": algorithm,
        "protocol": proto,
        "publicport": pub,
        "privateport": priv,
        "cidrlist": svc.cidrs(a.cidrlist),
        "openfirewall": a.openfirewall is not False,
        "account_id": ip.account_id or 0,
        "domain_id": ip.domain_id or 0,
    }
    rule = lbsvc.create_rule(ctx, fields)
    return Pending("LoadBalancerRule", rule.uuid)


def _rule(ctx: Ctx, param: str = "id") -> LoadBalancerRule:
    """An LB rule the caller may change."""
    rule = ctx.get(LoadBalancerRule, ctx.args.get(param), param)
    ctx.require(rule, f"load balancer rule {rule.name}")
    return rule


@api(
    "deleteLoadBalancerRule",
    "Deletes a load balancer rule",
    "success",
    [Param("id", "uuid", required=True, description="the rule")],
    is_async=True,
)
def delete_lb(ctx: Ctx) -> Pending:
    """Mark the rule Revoke and queue its removal."""
    rule = _rule(ctx)
    svc.revoke(ctx, rule, f"load balancer rule {rule.name}")
    return Pending("LoadBalancerRule", rule.uuid)


def _members(ctx: Ctx, rule: LoadBalancerRule) -> list[str]:
    """The guest IPs of the VMs named by virtualmachineids (each must have a NIC on the rule's network)."""
    net = ctx.db.get(Network, rule.network_id)
    assert net is not None
    if not ctx.args.virtualmachineids:
        raise InvalidParameter("Parameter virtualmachineids is required")
    return [
        f"{vm.id}:{nic.ipaddress}"
        for vm, nic in (svc.vm_nic(ctx, v, net, None, "virtualmachineids") for v in ctx.args.virtualmachineids)
    ]


def _current(ctx: Ctx, rule: LoadBalancerRule) -> set[int]:
    """VM ids of the rule's live members."""
    return set(
        ctx.db.exec(
            select(LoadBalancerMember.vm_id).where(
                LoadBalancerMember.rule_id == rule.id, LoadBalancerMember.removed == None
            )
        )
    )


MEMBER_PARAMS = [
    Param("id", "uuid", required=True, description="the rule"),
    Param("virtualmachineids", "uuidlist", description="the VMs"),
    Param("vmidipmap", "map", description="unused"),
]


@api("assignToLoadBalancerRule", "Adds VMs to a load balancer rule", "success", MEMBER_PARAMS, is_async=True)
def assign_lb(ctx: Ctx) -> Pending:
    """Check the VMs are on the rule's network; the job adds and applies them."""
    rule = _rule(ctx)
    members = _members(ctx, rule)
    have = _current(ctx, rule)
    dup = [m for m in members if int(m.split(":")[0]) in have]
    if dup:
        raise InvalidParameter(f"VM id {dup[0].split(':')[0]} is already assigned to rule {rule.name}")
    return Pending("LoadBalancerRule", rule.uuid, {"add": members})


@api("removeFromLoadBalancerRule", "Removes VMs from a load balancer rule", "success", MEMBER_PARAMS, is_async=True)
def remove_lb(ctx: Ctx) -> Pending:
    """Check the VMs are members; the job removes and applies them."""
    rule = _rule(ctx)
    members = _members(ctx, rule)
    have = _current(ctx, rule)
    missing = [m for m in members if int(m.split(":")[0]) not in have]
    if missing:
        raise InvalidParameter(f"VM id {missing[0].split(':')[0]} is not assigned to rule {rule.name}")
    return Pending("LoadBalancerRule", rule.uuid, {"remove": [int(m.split(":")[0]) for m in members]})


@api(
    "listLoadBalancerRules",
    "Lists load balancer rules",
    "loadbalancerrule",
    [
        Param("id", "uuid", description="the rule"),
        Param("name", description="the name"),
        Param("publicipid", "uuid", description="the public IP"),
        Param("networkid", "uuid", description="the network"),
        Param("virtualmachineid", "uuid", description="rules with this member"),
        Param("zoneid", "uuid", description="the zone"),
        Param("account", description="the account"),
        Param("domainid", "uuid", description="the domain"),
        Param("isrecursive", "boolean", description="subdomains"),
        Param("tags", "map", description="tags"),
        Param("fordisplay", "boolean", description="unused"),
    ],
    paged=True,
)
def list_lb(ctx: Ctx) -> dict[str, Any]:
    """List LB rules the caller may see."""
    a = ctx.args
    stmt = ctx.scope(select(LoadBalancerRule), LoadBalancerRule)
    if a.publicipid:
        stmt = stmt.where(LoadBalancerRule.ipaddress_id == ctx.get(PublicIpAddress, a.publicipid, "publicipid").id)
    if a.networkid:
        stmt = stmt.where(LoadBalancerRule.network_id == ctx.get(Network, a.networkid, "networkid").id)
    if a.virtualmachineid:
        vm = ctx.get(VirtualMachine, a.virtualmachineid, "virtualmachineid")
        stmt = stmt.where(
            col(LoadBalancerRule.id).in_(
                select(LoadBalancerMember.rule_id).where(
                    LoadBalancerMember.vm_id == vm.id, LoadBalancerMember.removed == None
                )
            )
        )
    rows, count = ctx.page(stmt, LoadBalancerRule, keyword=("name", "description"))
    preload_owners(ctx, rows)
    return list_body("loadbalancerrule", [lb_view(ctx, r) for r in rows], count)


@api(
    "listLoadBalancerRuleInstances",
    "Lists the VMs of a load balancer rule",
    "loadbalancerruleinstance",
    [
        Param("id", "uuid", required=True, description="the rule"),
        Param("applied", "boolean", description="unused: members are always applied"),
        Param("lbvmips", "boolean", description="also list the members' IPs"),
    ],
    paged=True,
)
def list_lb_vms(ctx: Ctx) -> dict[str, Any]:
    """The member VMs (and with lbvmips their guest IPs)."""
    rule = ctx.get(LoadBalancerRule, ctx.args.id)
    members = list(
        ctx.db.exec(
            select(LoadBalancerMember)
            .where(LoadBalancerMember.rule_id == rule.id, LoadBalancerMember.removed == None)
            .order_by(col(LoadBalancerMember.id))
        )
    )
    vms = [v for v in (ctx.db.get(VirtualMachine, m.vm_id) for m in members) if v is not None and v.removed is None]
    batch = VmBatch(ctx, vms)
    body = list_body("loadbalancerruleinstance", [batch.view(v) for v in vms], len(vms))
    if ctx.args.lbvmips and vms:
        body["lbvmipaddresses"] = [m.vmip for m in members]
    return body


def _change(rule: LoadBalancerRule, change: dict[str, Any]) -> dict[str, Any]:
    """Job parameters of a rule change: the new values and the old ones (put back if the server dies)."""
    return {"change": change, "old": {k: getattr(rule, k) for k in change}}


@api(
    "updateLoadBalancerRule",
    "Updates a load balancer rule's name, description or algorithm",
    "loadbalancer",
    [
        Param("id", "uuid", required=True, description="the rule"),
        Param("name", description="new name"),
        Param("description", description="new description"),
        Param("algorithm", description="new algorithm"),
        Param("customid", description="unused"),
        Param("fordisplay", "boolean", description="unused"),
        Param("protocol", description="unused"),
    ],
    is_async=True,
)
def update_lb(ctx: Ctx) -> Pending:
    """Validate; the job records and applies the change."""
    rule = _rule(ctx)
    a = ctx.args
    if a.algorithm and a.algorithm.lower() not in ALGORITHMS:
        raise InvalidParameter(f"Parameter algorithm must be one of {', '.join(ALGORITHMS)}")
    change = {k: (a[k].lower() if k == "algorithm" else a[k]) for k in ("name", "description", "algorithm") if a.get(k)}
    return Pending("LoadBalancerRule", rule.uuid, _change(rule, change))


@api(
    "createLBHealthCheckPolicy",
    "Creates a health check policy for a load balancer rule",
    "healthcheckpolicies",
    [
        Param("lbruleid", "uuid", required=True, description="the rule"),
        Param("description", description="text"),
        Param("pingpath", description="HTTP path to check (default: a TCP connect)"),
        Param("intervaltime", "integer", description="seconds between checks (default 5)"),
        Param("responsetimeout", "integer", description="seconds to wait (default 2)"),
        Param("healthythreshold", "integer", description="successes before healthy (default 2)"),
        Param("unhealthythreshold", "integer", description="failures before unhealthy (default 3)"),
        Param("fordisplay", "boolean", description="unused"),
    ],
    is_async=True,
)
def create_hc(ctx: Ctx) -> Pending:
    """Validate the policy (one per rule); the job records and applies it."""
    rule = _rule(ctx, "lbruleid")
    a = ctx.args
    if (rule.healthcheck or {}).get("id"):
        raise InvalidParameter(f"Load balancer rule {rule.name} already has a health check policy")
    if a.pingpath and not a.pingpath.startswith("/"):
        raise InvalidParameter("Parameter pingpath must start with /")
    policy: dict[str, Any] = {"id": new_uuid(), "description": a.description or "", "pingpath": a.pingpath or ""}
    for key, default, low, high in (
        ("intervaltime", 5, 1, 20940),
        ("responsetimeout", 2, 1, 60),
        ("healthythreshold", 2, 1, 10),
        ("unhealthythreshold", 3, 1, 10),
    ):
        value = a.get(key)
        if value is None:
            value = default
        if not low <= value <= high:
            raise InvalidParameter(f"Parameter {key} must be between {low} and {high}")
        policy[key] = value
    return Pending("LoadBalancerRule", rule.uuid, _change(rule, {"healthcheck": policy}))


@api(
    "deleteLBHealthCheckPolicy",
    "Deletes a load balancer health check policy",
    "success",
    [
        Param("id", "uuid", required=True, description="the policy"),
    ],
    is_async=True,
)
def delete_hc(ctx: Ctx) -> Pending:
    """Find the rule holding the policy; the job removes and applies."""
    rule = ctx.db.exec(
        select(LoadBalancerRule).where(
            LoadBalancerRule.healthcheck["id"].as_string() == ctx.args.id,
            LoadBalancerRule.removed == None,
        )
    ).first()
    if rule is None or not ctx.can_see(rule):
        raise InvalidParameter(f"Unable to find health check policy with id {ctx.args.id} (parameter id)")
    ctx.require(rule, f"load balancer rule {rule.name}")
    return Pending("LoadBalancerRule", rule.uuid, _change(rule, {"healthcheck": {}}))


@api(
    "listLBHealthCheckPolicies",
    "Lists the health check policies of load balancer rules",
    "healthcheckpolicies",
    [
        Param("lbruleid", "uuid", description="the rule"),
        Param("id", "uuid", description="the policy"),
        Param("fordisplay", "boolean", description="unused"),
    ],
    paged=True,
)
def list_hc(ctx: Ctx) -> dict[str, Any]:
    """The policy of a rule (CloudStack lists one entry per rule)."""
    rule: LoadBalancerRule | None
    if ctx.args.lbruleid:
        rule = ctx.get(LoadBalancerRule, ctx.args.lbruleid, "lbruleid")
    elif ctx.args.id:
        rule = ctx.db.exec(
            select(LoadBalancerRule).where(LoadBalancerRule.healthcheck["id"].as_string() == ctx.args.id)
        ).first()
        if rule is None or not ctx.can_see(rule):
            return {}
    else:
        raise InvalidParameter("Parameter lbruleid or id is required")
    return list_body("healthcheckpolicies", [hc_view(ctx, rule)], 1)
