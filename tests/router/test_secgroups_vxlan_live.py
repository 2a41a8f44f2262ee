"""Integration: security groups on a shared bridge, and a guest network stretched over VXLAN."""

from __future__ import annotations

import pytest
from virga.appliance.router import links
from virga.appliance.router.model import PortRange, SecurityGroupConfig, SgNic, SgRule, VxlanSpec
from virga.appliance.router.secgroups import SecurityGroupManager

from tests.router.netkit import get, sh
from tests.router.sample import sample

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MAC_A, MAC_B = "52:54:00:00:02:11", "52:54:00:00:02:12"


def test_security_groups_filter_per_rule(lab, tmp_path, tag):
    host = lab.ns("h")
    bridge = f"sb{tag}"
    lab.bridge(host, bridge)
    a, b, c = lab.ns("a"), lab.ns("b"), lab.ns("c")
    lab.plug(host, bridge, a, mac=MAC_A, addr="10.2.0.11/24")
    lab.plug(host, bridge, b, mac=MAC_B, addr="10.2.0.12/24")
    lab.plug(host, bridge, c, addr="10.2.0.50/24")
    for port in (8000, 8001):
        lab.serve(b, port)
    anything = SgRule("all", cidrs=("0.0.0.0/0",))
    cfg = SecurityGroupConfig(
        f"shared-{tag}",
        f"s{tag}",
        bridge,
        nics=(
            SgNic(MAC_A, "10.2.0.11", ingress=(), egress=(anything,)),
            SgNic(
                MAC_B,
                "10.2.0.12",
                egress=(anything,),
                ingress=(
                    SgRule("tcp", PortRange.one(8000), cidrs=("0.0.0.0/0",)),
                    SgRule("tcp", PortRange.one(8001), group_members=("10.2.0.11",)),
                ),
            ),
        ),
    )
    mgr = SecurityGroupManager(tmp_path / "sg", host_netns=host)
    assert mgr.apply_sync(cfg) is True
    assert mgr.apply_sync(cfg) is False
    assert get(c, "http://10.2.0.12:8000/")[0] == 0
    assert get(c, "http://10.2.0.12:8001/", timeout=1)[0] != 0  # not in the group
    assert get(a, "http://10.2.0.12:8001/")[0] == 0  # group member
    lab.serve(a, 8002)
    assert get(b, "http://10.2.0.11:8002/", timeout=1)[0] != 0  # A has no ingress rule
    assert mgr.destroy_sync(cfg.short_id)
    assert get(c, "http://10.2.0.12:8001/")[0] == 0
    assert not mgr.healthy(cfg.short_id)


def test_vxlan_carries_guest_traffic(lab, manager_factory, tag):
    ha, hb = lab.ns("ha"), lab.ns("hb")
    sh(["ip", "link", "add", "u0", "type", "veth", "peer", "name", "u0", "netns", hb], ns=ha)
    for ns, addr in ((ha, "192.0.2.1/24"), (hb, "192.0.2.2/24")):
        sh(["ip", "addr", "add", addr, "dev", "u0"], ns=ns)
        sh(["ip", "link", "set", "u0", "up"], ns=ns)
    cfg = sample(f"x{tag}", vxlan=VxlanSpec(4242, "192.0.2.1", ("192.0.2.2",)))
    manager_factory(ha).apply_sync(cfg)
    links.ensure_bridge(hb, cfg.guest_bridge)  # the other host's side of the segment
    links.ensure_vxlan(
        hb,
        cfg.guest_bridge,
        {
            "name": "vxb",
            "vni": 4242,
            "local": "192.0.2.2",
            "remotes": ["192.0.2.1"],
            "port": 4789,
            "underlay_dev": None,
        },
    )
    guest = lab.ns("g")
    lab.plug(hb, cfg.guest_bridge, guest, mac=cfg.leases[0].mac)
    assert lab.dhcp(guest)[0] == cfg.leases[0].ip
    assert get(guest, "http://10.1.1.1/latest/meta-data/local-hostname") == (0, "vm1")
