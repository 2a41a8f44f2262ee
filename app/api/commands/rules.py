"""Firewall, egress and port forwarding rules: validated here, applied on the router by jobs (undone on failure)."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from virga.api.dispatch import Pending
from virga.api.registry import Param, api
from virga.api.response import list_body
from virga.api.views.common import owner, preload_owners
from virga.api.views.rules import fw_view, pf_view
from virga.context import Ctx
from virga.errors import InvalidParameter
from virga.models import FirewallRule, Network, PortForwardingRule, PublicIpAddress, VirtualMachine
from virga.services import rules as svc

RULE_ID = [Param("id", "uuid", required=True, description="the rule")]

FW_PARAMS = [
    Param("protocol", required=True, description="tcp, udp, icmp or all"),
    Param("startport", "integer", description="first port (tcp/udp)"),
    Param("endport", "integer", description="last port (tcp/udp)"),
    Param("cidrlist", "list", description="source CIDRs (default 0.0.0.0/0)"),
    Param("icmptype", "integer", description="ICMP type (-1 any)"),
    Param("icmpcode", "integer", description="code"),
    Param("type", description="unused"),
    Param("fordisplay", "boolean", description="unused"),
]


def _fw_fields(ctx: Ctx) -> dict[str, Any]:
    """Checked protocol, ports and ICMP fields of a firewall rule."""
    proto = svc.protocol(ctx.args.protocol)
    start, end = svc.rule_ports(ctx, proto)
    return {
        "protocol": proto,
        "startport": start,
        "endport": end,
        "icmptype": svc.icmp(ctx.args.icmptype, "icmptype", proto),
        "icmpcode": svc.icmp(ctx.args.icmpcode, "icmpcode", proto),
    }


@api(
    "createFirewallRule",
    "Creates an ingress firewall rule on a public IP",
    "firewallrule",
    [
        Param("ipaddressid", "uuid", required=True, description="the public IP"),
        *FW_PARAMS,
    ],
    is_async=True,
)
def create_fw(ctx: Ctx) -> Pending:
    """Validate and record the rule (Add); the job applies it."""
    ip, net = svc.owned_ip(ctx, ctx.args.ipaddressid)
    fields = _fw_fields(ctx)
    fields |= {
        "ipaddress_id": ip.id,
        "network_id": net.id or 0,
        "traffictype": "Ingress",
        "cidrlist": svc.cidrs(ctx.args.cidrlist),
        "account_id": ip.account_id or 0,
        "domain_id": ip.domain_id or 0,
    }
    rule = svc.create_firewall_rule(ctx, fields)
    return Pending("FirewallRule", rule.uuid)


@api(
    "createEgressFirewallRule",
    "Creates an egress firewall rule of a network",
    "firewallrule",
    [
        Param("networkid", "uuid", required=True, description="the network"),
        Param("destcidrlist", "list", description="destination CIDRs (default 0.0.0.0/0)"),
        *FW_PARAMS,
    ],
    is_async=True,
)
def create_egress(ctx: Ctx) -> Pending:
    """Validate and record an egress rule (its meaning follows the offering's egress default policy)."""
    net = ctx.get(Network, ctx.args.networkid, "networkid")
    ctx.require(net, f"network {net.name}")
    if net.guestiptype != "Isolated":
        raise InvalidParameter(f"Egress rules apply to isolated networks; {net.name} is {net.guestiptype}")
    fields = _fw_fields(ctx)
    fields |= {
        "network_id": net.id or 0,
        "traffictype": "Egress",
        "cidrlist": svc.cidrs(ctx.args.cidrlist, default=net.cidr),
        "destcidrlist": svc.cidrs(ctx.args.destcidrlist, "destcidrlist"),
        "account_id": net.account_id,
        "domain_id": net.domain_id,
    }
    rule = svc.create_firewall_rule(ctx, fields)
    return Pending("FirewallRule", rule.uuid)


def _fw_rule(ctx: Ctx, traffictype: str) -> FirewallRule:
    """A firewall rule of the given direction the caller may change."""
    rule = ctx.get(FirewallRule, ctx.args.id)
    if rule.traffictype != traffictype:
        raise InvalidParameter(f"Rule {rule.uuid} is an {rule.traffictype.lower()} rule (parameter id)")
    svc.revoke(ctx, rule, f"firewall rule {rule.uuid}")
    return rule


@api("deleteFirewallRule", "Deletes an ingress firewall rule", "success", RULE_ID, is_async=True)
def delete_fw(ctx: Ctx) -> Pending:
    """Mark the rule Revoke and queue its removal from the router."""
    return Pending("FirewallRule", _fw_rule(ctx, "Ingress").uuid)


@api("deleteEgressFirewallRule", "Deletes an egress firewall rule", "success", RULE_ID, is_async=True)
def delete_egress(ctx: Ctx) -> Pending:
    """Mark the rule Revoke and queue its removal from the router."""
    return Pending("FirewallRule", _fw_rule(ctx, "Egress").uuid)


def _list_fw(ctx: Ctx, traffictype: str) -> dict[str, Any]:
    """List firewall rules of one direction the caller may see."""
    a = ctx.args
    stmt = ctx.scope(select(FirewallRule), FirewallRule).where(FirewallRule.traffictype == traffictype)
    if a.ipaddressid:
        stmt = stmt.where(FirewallRule.ipaddress_id == ctx.get(PublicIpAddress, a.ipaddressid, "ipaddressid").id)
    if a.networkid:
        stmt = stmt.where(FirewallRule.network_id == ctx.get(Network, a.networkid, "networkid").id)
    rows, count = ctx.page(stmt, FirewallRule, keyword=("protocol",))
    ctx.preload(PublicIpAddress, {r.ipaddress_id for r in rows})
    return list_body("firewallrule", [fw_view(ctx, r) for r in rows], count)


LIST_PARAMS = [
    Param("id", "uuid", description="the rule"),
    Param("ipaddressid", "uuid", description="the public IP"),
    Param("networkid", "uuid", description="the network"),
    Param("account", description="the account"),
    Param("domainid", "uuid", description="the domain"),
    Param("isrecursive", "boolean", description="subdomains"),
    Param("tags", "map", description="tags"),
    Param("fordisplay", "boolean", description="unused"),
    Param("vpcid", "uuid", description="unused"),
]


@api("listFirewallRules", "Lists ingress firewall rules", "firewallrule", LIST_PARAMS, paged=True)
def list_fw(ctx: Ctx) -> dict[str, Any]:
    """List ingress rules."""
    return _list_fw(ctx, "Ingress")


@api("listEgressFirewallRules", "Lists egress firewall rules", "firewallrule", LIST_PARAMS, paged=True)
def list_egress(ctx: Ctx) -> dict[str, Any]:
    """List egress rules."""
    return _list_fw(ctx, "Egress")


def _pf_ranges(ctx: Ctx) -> tuple[int, int, int, int]:
    """Public and private port ranges of a forward, of equal size."""
    a = ctx.args
    pub, pubend = svc.port_range(a.publicport, a.publicendport, "publicport", "publicendport")
    priv, privend = svc.port_range(a.privateport, a.privateendport, "privateport", "privateendport")
    assert pub is not None and pubend is not None and priv is not None and privend is not None
    if pubend - pub != privend - priv:
        raise InvalidParameter(
            "Parameters publicport-publicendport and privateport-privateendport must span the same number of ports"
        )
    return pub, pubend, priv, privend


@api(
    "createPortForwardingRule",
    "Forwards a public port (range) to a VM",
    "portforwardingrule",
    [
        Param("ipaddressid", "uuid", required=True, description="the public IP"),
        Param("privateport", "integer", required=True, description="the VM's first port"),
        Param("privateendport", "integer", description="the VM's last port"),
        Param("publicport", "integer", required=True, description="the first public port"),
        Param("publicendport", "integer", description="the last public port"),
        Param("protocol", required=True, description="tcp or udp"),
        Param("virtualmachineid", "uuid", required=True, description="the VM"),
        Param("vmguestip", description="the VM's guest IP (default: its NIC's)"),
        Param("openfirewall", "boolean", description="open the public port in the firewall (default true)"),
        Param("cidrlist", "list", description="source CIDRs"),
        Param("networkid", "uuid", description="the VM's network"),
        Param("fordisplay", "boolean", description="unused"),
    ],
    is_async=True,
)
def create_pf(ctx: Ctx) -> Pending:
    """Validate, detect conflicts (537) and record the forward (Add); the job applies it."""
    a = ctx.args
    ip, net = svc.owned_ip(ctx, a.ipaddressid)
    proto = svc.protocol(a.protocol, allowed=("tcp", "udp"))
    pub, pubend, priv, privend = _pf_ranges(ctx)
    if a.networkid and ctx.get(Network, a.networkid, "networkid").id != net.id:
        raise InvalidParameter(f"Parameter networkid is not the network of public IP {ip.ipaddress}")
    vm, nic = svc.vm_nic(ctx, a.virtualmachineid, net, a.vmguestip)
    svc.check_claim(ctx.db, ip, proto, pub, pubend)
    fields = {
        "ipaddress_id": ip.id or 0,
        "network_id": net.id or 0,
        "vm_id": vm.id or 0,
        "vmguestip": nic.ipaddress or "",
        "protocol": proto,
        "publicport": pub,
        "publicendport": pubend,
        "privateport": priv,
        "privateendport": privend,
        "cidrlist": svc.cidrs(a.cidrlist),
        "openfirewall": a.openfirewall is not False,
        "account_id": ip.account_id or 0,
        "domain_id": ip.domain_id or 0,
    }
    rule = svc.create_port_forward(ctx, fields)
    return Pending("FirewallRule", rule.uuid)


@api("deletePortForwardingRule", "Deletes a port forwarding rule", "success", RULE_ID, is_async=True)
def delete_pf(ctx: Ctx) -> Pending:
    """Mark the rule Revoke and queue its removal from the router."""
    rule = ctx.get(PortForwardingRule, ctx.args.id)
    svc.revoke(ctx, rule, f"port forwarding rule {rule.uuid}")
    return Pending("FirewallRule", rule.uuid)


@api("listPortForwardingRules", "Lists port forwarding rules", "portforwardingrule", LIST_PARAMS, paged=True)
def list_pf(ctx: Ctx) -> dict[str, Any]:
    """List port forwards the caller may see."""
    a = ctx.args
    stmt = ctx.scope(select(PortForwardingRule), PortForwardingRule)
    if a.ipaddressid:
        stmt = stmt.where(PortForwardingRule.ipaddress_id == ctx.get(PublicIpAddress, a.ipaddressid, "ipaddressid").id)
    if a.networkid:
        stmt = stmt.where(PortForwardingRule.network_id == ctx.get(Network, a.networkid, "networkid").id)
    rows, count = ctx.page(stmt, PortForwardingRule, keyword=("protocol",))
    preload_owners(ctx, rows)
    ctx.preload(VirtualMachine, {r.vm_id for r in rows})
    return list_body("portforwardingrule", [pf_view(ctx, r) | owner(ctx, r) for r in rows], count)


@api(
    "updatePortForwardingRule",
    "Changes a port forwarding rule's private port(s) or VM",
    "portforwardingrule",
    [
        *RULE_ID,
        Param("privateport", "integer", description="the new first private port"),
        Param("privateendport", "integer", description="the new last private port"),
        Param("virtualmachineid", "uuid", description="the new VM"),
        Param("vmguestip", description="its guest IP"),
        Param("customid", description="unused"),
        Param("fordisplay", "boolean", description="unused"),
    ],
    is_async=True,
)
def update_pf(ctx: Ctx) -> Pending:
    """Validate the new target; the job records and applies it (and restores the old one on failure)."""
    a = ctx.args
    rule = ctx.get(PortForwardingRule, a.id)
    ctx.require(rule, f"port forwarding rule {rule.uuid}")
    net = ctx.db.get(Network, rule.network_id)
    assert net is not None
    priv = a.privateport if a.privateport is not None else rule.privateport
    privend = a.privateendport if a.privateendport is not None else priv + (rule.publicendport - rule.publicport)
    start, end = svc.port_range(priv, privend, "privateport", "privateendport")
    assert start is not None and end is not None
    if end - start != rule.publicendport - rule.publicport:
        raise InvalidParameter("The private range must span as many ports as the public range")
    vm_id, guest = rule.vm_id, rule.vmguestip
    if a.virtualmachineid:
        vm, nic = svc.vm_nic(ctx, a.virtualmachineid, net, a.vmguestip)
        vm_id, guest = vm.id or 0, nic.ipaddress or ""
    keys = ("privateport", "privateendport", "vm_id", "vmguestip")
    new = dict(zip(keys, (start, end, vm_id, guest), strict=True))
    return Pending("FirewallRule", rule.uuid, new | {"old": {k: getattr(rule, k) for k in keys}})
