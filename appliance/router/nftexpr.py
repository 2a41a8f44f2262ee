"""Pure helpers turning rule dataclasses into nftables match expressions."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from virga.appliance.router.model import PortForward, PortRange

ANY = "0.0.0.0/0"


@lru_cache(maxsize=65536)
def network(cidr: str) -> ipaddress.IPv4Network:
    """Parse a CIDR, host bits allowed (cached: big rulesets repeat the same few thousand)."""
    return ipaddress.IPv4Network(cidr, strict=False)


@lru_cache(maxsize=65536)
def _normal(cidr: str) -> str:
    """A CIDR in its normal text form."""
    return str(network(cidr))


def addr_set(cidrs: Iterable[str]) -> str | None:
    """`{ a, b }` of normalised CIDRs, a single CIDR bare, or None when it includes 0.0.0.0/0."""
    nets = sorted({_normal(c) for c in cidrs})
    if not nets or ANY in nets:
        return None
    return nets[0] if len(nets) == 1 else "{ " + ", ".join(nets) + " }"


def l4_match(
    protocol: str,
    ports: PortRange | None,
    icmp_type: int | None,
    icmp_code: int | None,
    port_key: str = "dport",
) -> str:
    """The protocol/port (or ICMP type/code) part of a rule; empty for protocol `all`."""
    if protocol == "all":
        return ""
    if protocol == "icmp":
        parts = ["meta l4proto icmp"]
        if icmp_type is not None and icmp_type >= 0:
            parts.append(f"icmp type {icmp_type}")
        if icmp_code is not None and icmp_code >= 0:
            parts.append(f"icmp code {icmp_code}")
        return " ".join(parts)
    if ports is None:
        return f"meta l4proto {protocol}"
    return f"{protocol} {port_key} {ports.nft()}"


def peer_match(cidrs: Iterable[str], key: str) -> str:
    """`ip saddr X` / `ip daddr X`, or empty when the peers include everything."""
    peers = addr_set(cidrs)
    return f"ip {key} {peers}" if peers else ""


def join(*parts: str) -> str:
    """Join non-empty expression parts with single spaces."""
    return " ".join(p for p in parts if p)


def dnat_target(pf: PortForward) -> str:
    """The `dnat to ...` statement of a port forward (same ports, single shift, or a port map)."""
    pub, priv = pf.public_ports, pf.private_ports
    if pub == priv:
        return f"dnat to {pf.private_ip}"
    if pub.size == 1:
        return f"dnat to {pf.private_ip}:{priv.start}"
    pairs = ", ".join(f"{pub.start + i} : {priv.start + i}" for i in range(pub.size))
    return f"dnat to {pf.private_ip} : {pf.protocol} dport map {{ {pairs} }}"
