"""Pure inline validation of form fields: names, integers, IPs, CIDRs, ranges and overlaps."""

from __future__ import annotations

import ipaddress


def required(value: str) -> str | None:
    """A value must be given."""
    return None if value.strip() else "required"


def integer(value: str) -> str | None:
    """A positive whole number."""
    return None if value.strip().isdigit() and int(value) > 0 else "a positive whole number"


def ip(value: str) -> str | None:
    """An IPv4 address."""
    try:
        ipaddress.IPv4Address(value.strip())
    except ValueError:
        return f"{value!r} is not an IPv4 address"
    return None


def netmask(value: str) -> str | None:
    """A dotted netmask like 255.255.255.0."""
    if ip(value):
        return f"{value!r} is not a netmask"
    try:
        ipaddress.IPv4Network(f"0.0.0.0/{value.strip()}")
    except ValueError:
        return f"{value!r} is not a valid netmask"
    return None


def cidr(value: str) -> str | None:
    """A network in CIDR notation (10.1.1.0/24)."""
    try:
        ipaddress.IPv4Network(value.strip(), strict=True)
    except ValueError as err:
        return f"{value!r} is not a CIDR ({err})"
    return None


def ip_range(start: str, end: str, gateway: str = "", mask: str = "") -> str | None:
    """start <= end, both in gateway/netmask's subnet, gateway outside the range."""
    for v in (start, end, gateway) if gateway else (start, end):
        if err := ip(v):
            return err
    a, b = ipaddress.IPv4Address(start.strip()), ipaddress.IPv4Address(end.strip())
    if a > b:
        return f"start {a} is after end {b}"
    if gateway and mask:
        if err := netmask(mask):
            return err
        net = ipaddress.IPv4Network(f"{gateway.strip()}/{mask.strip()}", strict=False)
        if a not in net or b not in net:
            return f"the range {a}-{b} is not inside {net}"
        if a <= ipaddress.IPv4Address(gateway.strip()) <= b:
            return f"the gateway {gateway} is inside the range"
    return None


def overlaps(start: str, end: str, taken: list[tuple[str, str]]) -> str | None:
    """The range must not overlap existing ranges."""
    a, b = ipaddress.IPv4Address(start.strip()), ipaddress.IPv4Address(end.strip())
    for s, e in taken:
        if a <= ipaddress.IPv4Address(e) and ipaddress.IPv4Address(s) <= b:
            return f"the range overlaps {s}-{e}"
    return None


def url(value: str) -> str | None:
    """A URL with a scheme (nfs://, simulator://, qemu+ssh://...)."""
    return None if "://" in value and value.split("://", 1)[1] else f"{value!r} is not a URL (scheme://...)"
