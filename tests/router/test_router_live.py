"""Integration: a real router in namespaces with guests, a public side, dnsmasq, nftables, haproxy."""

from __future__ import annotations

import dataclasses
import json
import time
from types import SimpleNamespace

import pytest
from virga.appliance.router import services
from virga.appliance.router.errors import ApplyError
from virga.appliance.router.model import EgressRule
from virga.appliance.router.render import ROUTER_FILES, link_plan

from tests.router.netkit import get, sh
from tests.router.sample import MAC1, MAC2, PUBGW, SNAT, STATIC, VM1, VM2, sample

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def world(lab, manager_factory, tag):
    """Host namespace with both bridges, a public namespace, the router, two DHCP'd guests with servers."""
    host, pub = lab.ns("h"), lab.ns("p")
    cfg = sample(f"r{tag}")
    lab.bridge(host, cfg.public_bridge)
    lab.plug(host, cfg.public_bridge, pub, addr=f"{PUBGW}/24")
    mgr = manager_factory(host)
    mgr.apply_sync(cfg)
    g1, g2 = lab.ns("g1"), lab.ns("g2")
    lab.plug(host, cfg.guest_bridge, g1, mac=MAC1)
    lab.plug(host, cfg.guest_bridge, g2, mac=MAC2)
    leases = [lab.dhcp(g1), lab.dhcp(g2)]
    for g in (g1, g2):
        lab.serve(g, 8000)
        lab.serve(g, 8001)
    lab.serve(pub, 80, body="public")
    lab.serve(pub, 9999, body="public9999")
    return SimpleNamespace(host=host, pub=pub, g1=g1, g2=g2, cfg=cfg, mgr=mgr, leases=leases, lab=lab)


def test_dhcp_dns_snat(world):
    assert world.leases[0][:2] == [VM1, "vm1"] and world.leases[1][:2] == [VM2, "vm2"]
    assert VM2 in sh(["busybox", "nslookup", "vm2.cs1.local", "10.1.1.1"], ns=world.g1)
    assert VM1 in sh(["busybox", "nslookup", "vm1", "10.1.1.1"], ns=world.g2)
    # g1 leaves through source NAT; g2 through its static NAT IP
    assert get(world.g1, f"http://{PUBGW}/") == (0, f"public {SNAT}")
    assert get(world.g2, f"http://{PUBGW}/") == (0, f"public {STATIC}")


def test_port_forwarding_static_nat_firewall(world):
    assert get(world.pub, f"http://{SNAT}:2222/") == (0, f"{world.g1} {PUBGW}")
    assert get(world.pub, f"http://{SNAT}:3001/") == (0, f"{world.g1} {PUBGW}")
    assert get(world.pub, f"http://{STATIC}:8000/") == (0, f"{world.g2} {PUBGW}")
    assert get(world.pub, f"http://{STATIC}:8001/", timeout=1)[0] != 0  # no firewall rule
    assert get(world.pub, f"http://{SNAT}:8000/", timeout=1)[0] != 0  # not forwarded
    # hairpin: a guest reaches a forward on the public IP
    assert get(world.g2, f"http://{SNAT}:2222/")[0] == 0


def test_egress_policy(world):
    assert get(world.g1, f"http://{PUBGW}:9999/", timeout=1)[0] != 0  # blocked by the egress rule
    deny = dataclasses.replace(world.cfg, egress_default="deny", egress=(EgressRule("tcp", None, (f"{PUBGW}/32",)),))
    world.mgr.apply_sync(deny)
    assert get(world.g1, f"http://{PUBGW}:9999/")[0] == 0
    deny_all = dataclasses.replace(deny, egress=())
    world.mgr.apply_sync(deny_all)
    assert get(world.g1, f"http://{PUBGW}/", timeout=1)[0] != 0


def test_load_balancer_alternates_and_drops_dead_member(world):
    time.sleep(0.6)  # two health checks
    seen = {get(world.pub, f"http://{SNAT}/")[1].split()[0] for _ in range(4)}
    assert seen == {world.g1, world.g2}
    world.lab.procs[0].kill()  # g1:8000
    world.lab.procs[0].wait()
    time.sleep(1.0)
    seen = {get(world.pub, f"http://{SNAT}/")[1].split()[0] for _ in range(4)}
    assert seen == {world.g2}


def test_members_change_reloads_haproxy(world):
    rdir = world.mgr.router_dir(world.cfg.network_uuid)
    old = services.procs.read_pid(rdir / "haproxy.pid")
    lb = dataclasses.replace(world.cfg.lb_rules[0], members=(VM2,))
    res = world.mgr.apply_sync(dataclasses.replace(world.cfg, lb_rules=(lb,)))
    assert res.changes == ("haproxy reloaded",)
    assert services.procs.read_pid(rdir / "haproxy.pid") != old
    time.sleep(0.3)
    assert {get(world.pub, f"http://{SNAT}/")[1].split()[0] for _ in range(3)} == {world.g2}


def test_metadata_and_password(world):
    gw = "http://10.1.1.1"
    assert get(world.g1, f"{gw}/latest/user-data") == (0, "#cloud-config\nhostname: vm1\n")
    assert get(world.g2, f"{gw}/latest/user-data") == (0, "hello vm2")
    assert get(world.g1, f"{gw}/latest/meta-data/instance-id") == (0, "i-2-11-VM")
    assert get(world.g1, f"{gw}/latest/meta-data/local-hostname") == (0, "vm1")
    assert get(world.g1, f"{gw}/latest/meta-data/public-keys") == (0, "ssh-ed25519 AAAAkey1 user@x")
    ask = {"DomU_Request": "send_my_password"}
    assert get(world.g1, f"{gw}:8080/", ask) == (0, "s3cret-1")
    assert get(world.g1, f"{gw}:8080/", {"DomU_Request": "saved_password"}) == (0, "saved_password")
    assert get(world.g1, f"{gw}:8080/", ask) == (0, "saved_password")
    assert get(world.g2, f"{gw}:8080/", ask) == (0, "saved_password")


def test_reapply_noop_rebuild_identical(world):
    mgr, cfg = world.mgr, world.cfg
    assert mgr.apply_sync(cfg).changes == ()
    rdir = mgr.router_dir(cfg.network_uuid)
    before = {name: (rdir / name).read_bytes() for name in ROUTER_FILES if (rdir / name).exists()}
    macs = _macs(f"vr-{cfg.short_id}")
    assert macs == {"guest0": link_plan(cfg)["guest"]["router_mac"], "public0": link_plan(cfg)["public"]["router_mac"]}
    mgr.destroy_sync(cfg.network_uuid)
    mgr.apply_sync(cfg)
    after = {name: (rdir / name).read_bytes() for name in ROUTER_FILES if (rdir / name).exists()}
    assert before == after
    assert _macs(f"vr-{cfg.short_id}") == macs  # the rebuilt router answers ARP with the same MACs
    assert get(world.g1, f"http://{PUBGW}/") == (0, f"public {SNAT}")
    assert get(world.pub, f"http://{SNAT}:2222/")[0] == 0
    assert world.lab.dhcp(world.g2)[0] == VM2
    assert mgr.status_sync(cfg.network_uuid).healthy


def _macs(ns: str) -> dict[str, str]:
    """The MACs of a router's legs."""
    links = json.loads(sh(["ip", "-j", "link"], ns=ns))
    return {link["ifname"]: link["address"] for link in links if link["ifname"] in ("guest0", "public0")}


def test_bad_ruleset_keeps_old(world):
    ns = f"vr-{world.cfg.short_id}"
    before = sh(["nft", "list", "ruleset"], ns=ns)
    with pytest.raises(ApplyError):
        services.load_ruleset(ns, "table ip virga {}\ndelete table ip virga\ntable ip virga { chain x { bogus } }\n")
    assert sh(["nft", "list", "ruleset"], ns=ns) == before
    assert get(world.pub, f"http://{SNAT}:2222/")[0] == 0


def test_heal_and_destroy(world):
    mgr, cfg = world.mgr, world.cfg
    rdir = mgr.router_dir(cfg.network_uuid)
    services.procs.stop(rdir / "dnsmasq.pid")
    services.procs.stop(mgr.hub.pidfile)
    st = mgr.status_sync(cfg.network_uuid)
    assert st.services["dnsmasq"] is False and st.services["metadata"] is False
    done = {(a.service, a.ok) for a in mgr.heal_sync()}
    assert done == {("dnsmasq", True), ("metadata", True)}
    assert mgr.status_sync(cfg.network_uuid).healthy
    assert world.lab.dhcp(world.g1)[0] == VM1
    assert mgr.destroy_sync(cfg.network_uuid)
    assert f"vr-{cfg.short_id}" not in sh(["ip", "netns", "list"])
    links = sh(["ip", "-o", "link"], ns=world.host)
    assert f"vrg{cfg.short_id}" not in links and f"vrp{cfg.short_id}" not in links
    assert not rdir.exists()
    assert not mgr.destroy_sync(cfg.network_uuid)
