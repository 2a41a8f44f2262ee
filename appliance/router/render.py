"""Pure rendering: RouterConfig / SecurityGroupConfig -> file contents (jinja2 templates)."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import asdict
from typing import Any

import jinja2
from virga.appliance.router import nftexpr as nx
from virga.appliance.router.model import RouterConfig, SecurityGroupConfig, SgRule
from virga.appliance.router.names import GUEST_IF, NFT_TABLE, PUBLIC_IF, RouterNames, sg_table

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("virga.appliance.router", "templates"),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    autoescape=False,
)

ROUTER_FILES = ("dnsmasq.conf", "dhcp-hosts", "hosts", "nftables.nft", "haproxy.cfg", "metadata.json", "links.json")


def _render(template: str, **ctx: Any) -> str:
    """Render one template with the common context."""
    return _ENV.get_template(template).render(iface={"guest": GUEST_IF, "public": PUBLIC_IF}, **ctx)


def render_dnsmasq(cfg: RouterConfig, router_dir: str) -> str:
    """dnsmasq.conf: DHCP (static leases only), DNS for the network domain, upstream forwarding."""
    net = ipaddress.IPv4Network(cfg.guest_cidr)
    return _render("dnsmasq.conf.j2", cfg=cfg, dir=router_dir, network=str(net.network_address))


def render_dhcp_hosts(cfg: RouterConfig) -> str:
    """dhcp-hostsfile: one static lease per guest NIC."""
    return _render("dhcp-hosts.j2", leases=sorted(cfg.leases, key=lambda lease: ipaddress.IPv4Address(lease.ip)))


def render_hosts(cfg: RouterConfig) -> str:
    """addn-hosts: the VM names of the network domain."""
    return _render("hosts.j2", cfg=cfg, leases=sorted(cfg.leases, key=lambda lease: ipaddress.IPv4Address(lease.ip)))


def _ingress_chains(cfg: RouterConfig) -> list[dict[str, Any]]:
    """One ingress firewall chain per public IP: allow rules, then the implicit openings of PF/LB."""
    chains = []
    for n, pub in enumerate(cfg.public_ips):
        rules = []
        for fw in cfg.firewall:
            if fw.public_ip == pub.address:
                rules.append(
                    nx.join(
                        nx.peer_match(fw.source_cidrs, "saddr"),
                        nx.l4_match(fw.protocol, fw.ports, fw.icmp_type, fw.icmp_code),
                    )
                )
        for pf in cfg.port_forwards:
            if pf.public_ip == pub.address and pf.open_firewall:
                rules.append(f"{pf.protocol} dport {pf.public_ports.nft()}")
        for lb in cfg.lb_rules:
            if lb.public_ip == pub.address and lb.open_firewall:
                rules.append(f"tcp dport {lb.public_port}")
        chains.append({"name": f"fw_ip{n}", "address": pub.address, "rules": rules})
    return chains


def render_nftables(cfg: RouterConfig) -> str:
    """The router's nftables ruleset (one table, replaced atomically)."""
    egress_verdict = "drop" if cfg.egress_default == "allow" else "accept"
    egress = [
        nx.join(nx.peer_match(r.destination_cidrs, "daddr"), nx.l4_match(r.protocol, r.ports, r.icmp_type, r.icmp_code))
        for r in cfg.egress
    ]
    forwards = [{"pf": pf, "target": nx.dnat_target(pf)} for pf in cfg.port_forwards]
    return _render(
        "nftables.nft.j2",
        cfg=cfg,
        table=NFT_TABLE,
        chains=_ingress_chains(cfg),
        egress=egress,
        egress_verdict=egress_verdict,
        forwards=forwards,
        snat=cfg.source_nat,
        static=[p for p in cfg.public_ips if p.static_nat_ip],
    )


def render_haproxy(cfg: RouterConfig, router_dir: str) -> str:
    """haproxy.cfg: a frontend and a backend per LB rule (empty when there is none)."""
    if not cfg.lb_rules:
        return ""
    return _render("haproxy.cfg.j2", cfg=cfg, dir=router_dir, rules=sorted(cfg.lb_rules, key=lambda r: r.name))


def render_metadata(cfg: RouterConfig) -> str:
    """metadata.json: what the userdata/metadata/password service answers per guest IP."""
    names = RouterNames(cfg.short_id)
    vms = {
        md.ip: {
            "user-data": md.userdata,
            "meta-data": {
                "local-hostname": md.local_hostname,
                "instance-id": md.instance_id,
                "public-keys": "\n".join(md.public_keys),
                "local-ipv4": md.ip,
                "availability-zone": md.availability_zone,
                "service-offering": md.service_offering,
                "vm-id": md.vm_id or md.instance_id,
                "public-ipv4": _public_ipv4(cfg, md.ip),
                "public-hostname": _public_ipv4(cfg, md.ip),
            },
            "password": md.password,
        }
        for md in cfg.metadata
    }
    doc = {"network_uuid": cfg.network_uuid, "netns": names.netns, "gateway": cfg.gateway, "vms": vms}
    return _render("metadata.json.j2", body=json.dumps(doc, indent=2, sort_keys=True))


def _public_ipv4(cfg: RouterConfig, vm_ip: str) -> str:
    """The public address a VM is seen from: its static NAT IP or the source NAT IP."""
    for pub in cfg.public_ips:
        if pub.static_nat_ip == vm_ip:
            return pub.address
    snat = cfg.source_nat
    return snat.address if snat else ""


def link_plan(cfg: RouterConfig) -> dict[str, Any]:
    """The interface spec of a router: namespace, bridges, veths, addresses, routes, VXLAN/VLAN."""
    names = RouterNames(cfg.short_id)
    prefix = ipaddress.IPv4Network(cfg.guest_cidr).prefixlen
    snat = cfg.source_nat or (cfg.public_ips[0] if cfg.public_ips else None)
    plan: dict[str, Any] = {
        "netns": names.netns,
        "guest": {
            "bridge": cfg.guest_bridge,
            "host_leg": names.guest_veth,
            "router_leg": GUEST_IF,
            "host_mac": names.mac("guest-host"),
            "router_mac": names.mac("guest"),
            "addresses": [f"{cfg.gateway}/{prefix}"],
        },
        "public": {
            "bridge": cfg.public_bridge,
            "host_leg": names.public_veth,
            "router_leg": PUBLIC_IF,
            "host_mac": names.mac("public-host"),
            "router_mac": names.mac("public"),
            "addresses": [f"{p.address}/{p.prefix}" for p in cfg.public_ips],
        },
        "default_route": snat.gateway if snat else None,
        "sysctl": {"net.ipv4.ip_forward": "1"},
        "vxlan": None,
        "vlan": None,
    }
    if cfg.vxlan:
        plan["vxlan"] = {"name": names.vxlan, **asdict(cfg.vxlan), "remotes": sorted(cfg.vxlan.remotes)}
    if cfg.vlan_id is not None:
        plan["vlan"] = {"name": names.vlan(cfg.vlan_id), "id": cfg.vlan_id, "parent": cfg.vlan_parent}
    return plan


def render_links(cfg: RouterConfig) -> str:
    """links.json: the interface spec as stable JSON."""
    return json.dumps(link_plan(cfg), indent=2, sort_keys=True) + "\n"


def render_router(cfg: RouterConfig, router_dir: str) -> dict[str, str]:
    """Every file of a router, by file name (pure: same input, byte-identical output)."""
    return {
        "dnsmasq.conf": render_dnsmasq(cfg, router_dir),
        "dhcp-hosts": render_dhcp_hosts(cfg),
        "hosts": render_hosts(cfg),
        "nftables.nft": render_nftables(cfg),
        "haproxy.cfg": render_haproxy(cfg, router_dir),
        "metadata.json": render_metadata(cfg),
        "links.json": render_links(cfg),
    }


NOT_NEW_TCP = "tcp flags & (syn | ack) != syn"


def _sg_lines(rules: tuple[SgRule, ...], peer_key: str, mirror: bool) -> list[str]:
    """Match expressions of SG rules; mirror=True gives the reply direction (never a new TCP connection)."""
    lines = []
    for rule in rules:
        if not rule.cidrs and not rule.group_members:
            continue
        peers = nx.peer_match(tuple(rule.cidrs) + tuple(f"{m}/32" for m in rule.group_members), peer_key)
        if not mirror:
            lines.append(nx.join(peers, nx.l4_match(rule.protocol, rule.ports, rule.icmp_type, rule.icmp_code)))
            continue
        if rule.protocol in ("tcp", "all"):
            sport = f"tcp sport {rule.ports.nft()}" if rule.ports and rule.protocol == "tcp" else "meta l4proto tcp"
            lines.append(nx.join(peers, sport, NOT_NEW_TCP))
        if rule.protocol in ("udp", "all"):
            sport = f"udp sport {rule.ports.nft()}" if rule.ports and rule.protocol == "udp" else "meta l4proto udp"
            lines.append(nx.join(peers, sport))
        if rule.protocol in ("icmp", "all"):
            lines.append(nx.join(peers, "icmp type echo-reply"))
    return lines


def render_security_groups(cfg: SecurityGroupConfig) -> str:
    """The bridge-family ruleset of a shared network (stateless, replies allowed by mirroring)."""
    nics = []
    for n, nic in enumerate(sorted(cfg.nics, key=lambda x: ipaddress.IPv4Address(x.ip))):
        nics.append(
            {
                "n": n,
                "nic": nic,
                "egress": _sg_lines(nic.egress, "daddr", False) + _sg_lines(nic.ingress, "daddr", True),
                "ingress": _sg_lines(nic.ingress, "saddr", False) + _sg_lines(nic.egress, "saddr", True),
            }
        )
    return _render("secgroups.nft.j2", cfg=cfg, table=sg_table(cfg.short_id), nics=nics)
