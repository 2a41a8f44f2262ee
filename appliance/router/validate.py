"""Validation of router and security-group configs before anything is rendered or applied."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping

from virga.appliance.router.errors import RouterConfigError, RuleConflictError
from virga.appliance.router.model import (
    EgressRule,
    FirewallRule,
    PortRange,
    RouterConfig,
    SecurityGroupConfig,
    SgRule,
)
from virga.appliance.router.nftexpr import network

SHORT_ID = re.compile(r"^[a-z0-9]{1,8}$")
IFNAME = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
MAC = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")
HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
DOMAIN = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,250}[A-Za-z0-9])?$")
LB_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PROTOCOLS = ("tcp", "udp", "icmp", "all")
MAX_MAPPED_RANGE = 4096


def ip(value: str, what: str) -> ipaddress.IPv4Address:
    """Parse an IPv4 address or raise RouterConfigError naming the field."""
    try:
        return ipaddress.IPv4Address(value)
    except (ValueError, TypeError) as exc:
        raise RouterConfigError(f"{what}: malformed IPv4 address {value!r}") from exc


def cidr(value: str, what: str) -> ipaddress.IPv4Network:
    """Parse an IPv4 CIDR (host bits allowed) or raise RouterConfigError."""
    try:
        return network(value)
    except (ValueError, TypeError) as exc:
        raise RouterConfigError(f"{what}: malformed CIDR {value!r}") from exc


def ports(rng: PortRange | None, what: str) -> None:
    """Check a port range lies in 1..65535 with start <= end."""
    if rng is None:
        return
    if not (isinstance(rng.start, int) and isinstance(rng.end, int)):
        raise RouterConfigError(f"{what}: ports must be integers")
    if not (1 <= rng.start <= rng.end <= 65535):
        raise RouterConfigError(f"{what}: bad port range {rng.start}-{rng.end}")


def protocol(proto: str, rng: PortRange | None, icmp: tuple[int | None, int | None], what: str) -> None:
    """Check a protocol with its ports (tcp/udp only) and ICMP type/code (icmp only)."""
    if proto not in PROTOCOLS:
        raise RouterConfigError(f"{what}: unknown protocol {proto!r}")
    ports(rng, what)
    if rng is not None and proto not in ("tcp", "udp"):
        raise RouterConfigError(f"{what}: ports only apply to tcp/udp, not {proto}")
    for value in icmp:
        if value is not None and (proto != "icmp" or not -1 <= value <= 255):
            raise RouterConfigError(f"{what}: bad ICMP type/code {value!r} for {proto}")


def ifname(value: str | None, what: str) -> None:
    """Check an interface name is a valid Linux link name."""
    if value is not None and not IFNAME.match(value):
        raise RouterConfigError(f"{what}: bad interface name {value!r}")


def _unique(values: Iterable[str], what: str) -> None:
    """Raise when a value repeats."""
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise RouterConfigError(f"duplicate {what} {value!r}")
        seen.add(value)


def _in_guest(addr: str, net: ipaddress.IPv4Network, what: str) -> None:
    """Check a guest address lies inside the guest CIDR."""
    if ip(addr, what) not in net:
        raise RouterConfigError(f"{what}: {addr} is outside the guest network {net}")


def validate_router(cfg: RouterConfig) -> None:
    """Validate a RouterConfig, raising RouterConfigError or RuleConflictError."""
    if not SHORT_ID.match(cfg.short_id or ""):
        raise RouterConfigError(f"short_id must be 1-8 of [a-z0-9], got {cfg.short_id!r}")
    if not cfg.network_uuid:
        raise RouterConfigError("network_uuid is empty")
    net = _guest_network(cfg)
    ifname(cfg.guest_bridge, "guest_bridge")
    ifname(cfg.public_bridge, "public_bridge")
    ifname(cfg.vlan_parent, "vlan_parent")
    if cfg.egress_default not in ("allow", "deny"):
        raise RouterConfigError(f"egress_default must be allow|deny, got {cfg.egress_default!r}")
    for server in cfg.dns:
        ip(server, "dns")
    if cfg.vlan_id is not None and not 1 <= cfg.vlan_id <= 4094:
        raise RouterConfigError(f"vlan_id out of range: {cfg.vlan_id}")
    _check_vxlan(cfg)
    _check_leases(cfg, net)
    publics = _check_public_ips(cfg, net)
    for fw in cfg.firewall:
        _check_firewall(fw, publics)
    for eg in cfg.egress:
        _check_egress(eg)
    _check_forwards(cfg, net, publics)


def _guest_network(cfg: RouterConfig) -> ipaddress.IPv4Network:
    """Check the guest CIDR, gateway, netmask and domain; return the network."""
    try:
        net = ipaddress.IPv4Network(cfg.guest_cidr, strict=True)
    except (ValueError, TypeError) as exc:
        raise RouterConfigError(f"guest_cidr: malformed CIDR {cfg.guest_cidr!r}") from exc
    _in_guest(cfg.gateway, net, "gateway")
    if str(net.netmask) != cfg.netmask:
        raise RouterConfigError(f"netmask {cfg.netmask!r} does not match {cfg.guest_cidr}")
    if not DOMAIN.match(cfg.domain or ""):
        raise RouterConfigError(f"bad network domain {cfg.domain!r}")
    return net


def _check_vxlan(cfg: RouterConfig) -> None:
    """Check the VXLAN spec, if any."""
    if cfg.vxlan is None:
        return
    if cfg.vlan_id is not None:
        raise RouterConfigError("a network is either VXLAN or VLAN, not both")
    if not 1 <= cfg.vxlan.vni <= 16777215:
        raise RouterConfigError(f"VXLAN VNI out of range: {cfg.vxlan.vni}")
    ip(cfg.vxlan.local, "vxlan.local")
    for remote in cfg.vxlan.remotes:
        ip(remote, "vxlan.remotes")
    ifname(cfg.vxlan.underlay_dev, "vxlan.underlay_dev")


def _check_leases(cfg: RouterConfig, net: ipaddress.IPv4Network) -> None:
    """Check static leases and metadata entries."""
    for lease in cfg.leases:
        if not MAC.match(lease.mac):
            raise RouterConfigError(f"lease: malformed MAC {lease.mac!r} (lowercase aa:bb:...)")
        if not HOSTNAME.match(lease.hostname):
            raise RouterConfigError(f"lease: bad hostname {lease.hostname!r}")
        _in_guest(lease.ip, net, "lease")
    _unique((lease.mac for lease in cfg.leases), "lease MAC")
    _unique((lease.ip for lease in cfg.leases), "lease IP")
    _unique((lease.hostname for lease in cfg.leases), "lease hostname")
    for md in cfg.metadata:
        _in_guest(md.ip, net, "metadata")
    _unique((md.ip for md in cfg.metadata), "metadata IP")


def _check_public_ips(cfg: RouterConfig, net: ipaddress.IPv4Network) -> dict[str, ipaddress.IPv4Address]:
    """Check public IPs (one source NAT at most, static NAT targets); return them by address."""
    publics: dict[str, ipaddress.IPv4Address] = {}
    for pub in cfg.public_ips:
        publics[pub.address] = ip(pub.address, "public ip")
        ip(pub.gateway, "public gateway")
        if not 1 <= pub.prefix <= 32:
            raise RouterConfigError(f"public ip {pub.address}: bad prefix {pub.prefix}")
        if pub.static_nat_ip is not None:
            if pub.is_source_nat:
                raise RuleConflictError(f"{pub.address} is the source NAT IP and cannot have static NAT")
            _in_guest(pub.static_nat_ip, net, f"static NAT of {pub.address}")
    _unique((p.address for p in cfg.public_ips), "public IP")
    _unique((p.static_nat_ip for p in cfg.public_ips if p.static_nat_ip), "static NAT target")
    if sum(p.is_source_nat for p in cfg.public_ips) > 1:
        raise RouterConfigError("more than one source NAT IP")
    return publics


def _check_firewall(fw: FirewallRule, publics: dict[str, ipaddress.IPv4Address]) -> None:
    """Check one ingress firewall rule."""
    if fw.public_ip not in publics:
        raise RouterConfigError(f"firewall rule on {fw.public_ip!r}, which the router does not hold")
    protocol(fw.protocol, fw.ports, (fw.icmp_type, fw.icmp_code), f"firewall {fw.public_ip}")
    for src in fw.source_cidrs:
        cidr(src, f"firewall {fw.public_ip} source")


def _check_egress(rule: EgressRule) -> None:
    """Check one egress rule."""
    protocol(rule.protocol, rule.ports, (rule.icmp_type, rule.icmp_code), "egress")
    for dst in rule.destination_cidrs:
        cidr(dst, "egress destination")


def _check_forwards(cfg: RouterConfig, net: ipaddress.IPv4Network, publics: Mapping[str, object]) -> None:
    """Check port forwards and LB rules, and that no two claim the same IP/protocol/port."""
    static = {p.address for p in cfg.public_ips if p.static_nat_ip}
    claims: list[tuple[str, str, PortRange, str]] = []
    for pf in cfg.port_forwards:
        what = f"port forward {pf.public_ip}:{pf.public_ports.nft()}"
        if pf.protocol not in ("tcp", "udp"):
            raise RouterConfigError(f"{what}: protocol must be tcp or udp")
        ports(pf.public_ports, what)
        ports(pf.private_ports, what)
        if pf.public_ports.size != pf.private_ports.size:
            raise RouterConfigError(f"{what}: public and private ranges differ in size")
        moved = pf.public_ports.start != pf.private_ports.start
        if moved and pf.public_ports.size > MAX_MAPPED_RANGE:
            raise RouterConfigError(f"{what}: a shifted range is limited to {MAX_MAPPED_RANGE} ports")
        _in_guest(pf.private_ip, net, what)
        claims.append((pf.public_ip, pf.protocol, pf.public_ports, what))
    for lb in cfg.lb_rules:
        what = f"LB rule {lb.name}"
        if not LB_NAME.match(lb.name):
            raise RouterConfigError(f"{what}: bad name")
        if lb.algorithm not in ("roundrobin", "leastconn", "source"):
            raise RouterConfigError(f"{what}: bad algorithm {lb.algorithm!r}")
        ports(PortRange.one(lb.public_port), what)
        ports(PortRange.one(lb.private_port), what)
        for member in lb.members:
            _in_guest(member, net, what)
        claims.append((lb.public_ip, "tcp", PortRange.one(lb.public_port), what))
    _unique((lb.name for lb in cfg.lb_rules), "LB rule name")
    _check_claims(claims, publics, static)


def _check_claims(
    claims: list[tuple[str, str, PortRange, str]], publics: Mapping[str, object], static: set[str]
) -> None:
    """Raise RuleConflictError when two claims overlap or a claim targets an unusable IP."""
    for i, (addr, proto, rng, what) in enumerate(claims):
        if addr not in publics:
            raise RouterConfigError(f"{what}: the router does not hold {addr!r}")
        if addr in static:
            raise RuleConflictError(f"{what}: {addr} has static NAT enabled")
        for other_addr, other_proto, other_rng, other in claims[:i]:
            if addr == other_addr and proto == other_proto and rng.overlaps(other_rng):
                raise RuleConflictError(f"{what} conflicts with {other} ({proto})")


def validate_security_groups(cfg: SecurityGroupConfig) -> None:
    """Validate a SecurityGroupConfig, raising RouterConfigError."""
    if not SHORT_ID.match(cfg.short_id or ""):
        raise RouterConfigError(f"short_id must be 1-8 of [a-z0-9], got {cfg.short_id!r}")
    ifname(cfg.bridge, "bridge")
    if cfg.gateway is not None:
        ip(cfg.gateway, "gateway")
    for nic in cfg.nics:
        if not MAC.match(nic.mac):
            raise RouterConfigError(f"security group NIC: malformed MAC {nic.mac!r}")
        ip(nic.ip, "security group NIC")
        for rule in nic.ingress + nic.egress:
            _check_sg_rule(rule, nic.ip)
    _unique((n.mac for n in cfg.nics), "NIC MAC")
    _unique((n.ip for n in cfg.nics), "NIC IP")


def _check_sg_rule(rule: SgRule, nic_ip: str) -> None:
    """Check one security-group rule."""
    what = f"security group rule of {nic_ip}"
    protocol(rule.protocol, rule.ports, (rule.icmp_type, rule.icmp_code), what)
    for peer in rule.cidrs:
        cidr(peer, what)
    for member in rule.group_members:
        ip(member, what)
