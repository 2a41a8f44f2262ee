"""A sample RouterConfig: the router benchmark's configuration, and the golden and integration tests'."""

from __future__ import annotations

from virga.appliance.router.model import (
    EgressRule,
    FirewallRule,
    HealthCheck,
    LbRule,
    Lease,
    PortForward,
    PortRange,
    PublicIp,
    RouterConfig,
    VmMetadata,
)

MAC1, MAC2 = "52:54:00:00:00:11", "52:54:00:00:00:12"
VM1, VM2 = "10.1.1.11", "10.1.1.12"
SNAT, STATIC, PUBGW = "198.51.100.10", "198.51.100.11", "198.51.100.1"


def sample(short_id: str = "abc123", **over) -> RouterConfig:
    """An isolated network with two VMs, SNAT, static NAT, port forwards, a LB and metadata."""
    cfg = dict(
        network_uuid=f"net-{short_id}",
        short_id=short_id,
        guest_cidr="10.1.1.0/24",
        gateway="10.1.1.1",
        netmask="255.255.255.0",
        domain="cs1.local",
        guest_bridge=f"gb{short_id}",
        public_bridge=f"pb{short_id}",
        dns=("192.0.2.53",),
        public_ips=(PublicIp(SNAT, 24, PUBGW, is_source_nat=True), PublicIp(STATIC, 24, PUBGW, static_nat_ip=VM2)),
        leases=(Lease(MAC1, VM1, "vm1", "uuid-vm1"), Lease(MAC2, VM2, "vm2", "uuid-vm2")),
        metadata=(
            VmMetadata(
                VM1,
                "i-2-11-VM",
                "vm1",
                userdata="#cloud-config\nhostname: vm1\n",
                public_keys=("ssh-ed25519 AAAAkey1 user@x",),
                password="s3cret-1",
            ),
            VmMetadata(VM2, "i-2-12-VM", "vm2", userdata="hello vm2"),
        ),
        firewall=(
            FirewallRule(STATIC, "tcp", PortRange.one(8000)),
            FirewallRule(STATIC, "icmp", icmp_type=8, icmp_code=-1, source_cidrs=("198.51.100.0/24",)),
        ),
        egress=(EgressRule("tcp", PortRange.one(9999), ("198.51.100.0/24",)),),
        port_forwards=(
            PortForward(SNAT, PortRange.one(2222), VM1, PortRange.one(8000)),
            PortForward(SNAT, PortRange(3000, 3001), VM1, PortRange(8000, 8001)),
            PortForward(SNAT, PortRange(4000, 4001), VM1, PortRange(4000, 4001), protocol="udp"),
        ),
        lb_rules=(
            LbRule(
                "web",
                SNAT,
                80,
                8000,
                members=(VM1, VM2),
                health_check=HealthCheck("http", "/", interval_ms=200, rise=1, fall=2),
            ),
        ),
    )
    cfg.update(over)
    return RouterConfig(**cfg)
