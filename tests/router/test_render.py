"""Pure rendering (golden files) and config validation."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from virga.appliance.router.errors import RouterConfigError, RuleConflictError
from virga.appliance.router.model import (
    FirewallRule,
    LbRule,
    PortForward,
    PortRange,
    SecurityGroupConfig,
    SgNic,
    SgRule,
    VxlanSpec,
)
from virga.appliance.router.render import render_router, render_security_groups
from virga.appliance.router.validate import validate_router, validate_security_groups

from tests.router.sample import SNAT, VM1, sample

GOLDEN = Path(__file__).parent / "golden"
REGEN = os.environ.get("VIRGA_REGEN_GOLDEN") == "1"
RDIR = "/var/lib/virga/routers/net-abc123"


def sg_sample() -> SecurityGroupConfig:
    web = SgRule("tcp", PortRange.one(80), cidrs=("0.0.0.0/0",))
    ssh = SgRule("tcp", PortRange.one(22), group_members=("10.2.0.11",))
    ping = SgRule("icmp", icmp_type=8, icmp_code=-1, cidrs=("10.2.0.0/24",))
    out = SgRule("all", cidrs=("0.0.0.0/0",))
    return SecurityGroupConfig(
        "shared-1",
        "sg1",
        "brshared",
        nics=(
            SgNic("52:54:00:00:01:12", "10.2.0.12", ingress=(web, ssh, ping), egress=(out,)),
            SgNic(
                "52:54:00:00:01:11", "10.2.0.11", ingress=(), egress=(SgRule("udp", PortRange(53, 53), ("10.2.0.1",)),)
            ),
        ),
    )


CASES = {
    "isolated": lambda: render_router(sample(), RDIR),
    "vxlan": lambda: {
        "links.json": render_router(sample(vxlan=VxlanSpec(5001, "192.0.2.1", ("192.0.2.3", "192.0.2.2"))), RDIR)[
            "links.json"
        ]
    },
    "vlan": lambda: {"links.json": render_router(sample(vlan_id=101, vlan_parent="eth1"), RDIR)["links.json"]},
    "deny-egress": lambda: {"nftables.nft": render_router(sample(egress_default="deny"), RDIR)["nftables.nft"]},
    "secgroups": lambda: {"secgroups.nft": render_security_groups(sg_sample())},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case):
    files = CASES[case]()
    assert files == CASES[case]()  # byte-identical twice
    for name, text in files.items():
        path = GOLDEN / case / name
        if REGEN:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        assert path.read_text() == text, f"{case}/{name} differs (VIRGA_REGEN_GOLDEN=1 regenerates)"


BAD = [
    {"guest_cidr": "10.1.1.0/33"},
    {"guest_cidr": "10.1.1.1/24"},
    {"gateway": "10.9.9.1"},
    {"short_id": "Bad_ID"},
    {"firewall": (FirewallRule(SNAT, "tcp", PortRange(0, 10)),)},
    {"firewall": (FirewallRule(SNAT, "tcp", PortRange.one(22), source_cidrs=("300.1.1.0/24",)),)},
    {"firewall": (FirewallRule(SNAT, "gre"),)},
    {"port_forwards": (PortForward(SNAT, PortRange(1, 3), VM1, PortRange(1, 2)),)},
    {"port_forwards": (PortForward(SNAT, PortRange.one(70000), VM1, PortRange.one(80)),)},
    {"lb_rules": (LbRule("x y", SNAT, 80, 80),)},
]


@pytest.mark.parametrize("over", BAD)
def test_bad_config_is_typed_error(over):
    with pytest.raises(RouterConfigError):
        validate_router(sample(**over))


def test_forward_conflict():
    cfg = sample()
    dup = PortForward(SNAT, PortRange(2220, 2230), VM1, PortRange(2220, 2230))
    with pytest.raises(RuleConflictError):
        validate_router(dataclasses.replace(cfg, port_forwards=cfg.port_forwards + (dup,)))
    with pytest.raises(RuleConflictError):  # LB on a forwarded port
        validate_router(dataclasses.replace(cfg, lb_rules=(LbRule("w", SNAT, 2222, 80),)))
    udp = PortForward(SNAT, PortRange.one(2222), VM1, PortRange.one(22), protocol="udp")
    validate_router(dataclasses.replace(cfg, port_forwards=cfg.port_forwards[:1] + (udp,)))


def test_security_group_validation():
    validate_security_groups(sg_sample())
    bad = dataclasses.replace(
        sg_sample(),
        nics=(SgNic("52:54:00:00:01:12", "10.2.0.12", ingress=(SgRule("tcp", PortRange(5, 1), ("0.0.0.0/0",)),)),),
    )
    with pytest.raises(RouterConfigError):
        validate_security_groups(bad)
