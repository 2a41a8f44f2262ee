"""Frozen dataclasses describing one router's (or one shared bridge's) desired state.

Services build these from the database; render.py turns them into text and apply.py
makes the host match. Every collection is a tuple so configs are hashable and immutable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Protocol = Literal["tcp", "udp", "icmp", "all"]
LbAlgorithm = Literal["roundrobin", "leastconn", "source"]
EgressPolicy = Literal["allow", "deny"]


@dataclass(frozen=True)
class PortRange:
    """An inclusive port range; a single port has start == end."""

    start: int
    end: int

    @classmethod
    def one(cls, port: int) -> PortRange:
        """Return the range holding exactly one port."""
        return cls(port, port)

    @property
    def size(self) -> int:
        """Number of ports in the range."""
        return self.end - self.start + 1

    def overlaps(self, other: PortRange) -> bool:
        """Whether two ranges share at least one port."""
        return self.start <= other.end and other.start <= self.end

    def nft(self) -> str:
        """The range in nftables syntax (`80` or `1000-1010`)."""
        return str(self.start) if self.start == self.end else f"{self.start}-{self.end}"


@dataclass(frozen=True)
class VxlanSpec:
    """A VXLAN segment carrying the guest bridge between hosts (head-end replication to peers)."""

    vni: int
    local: str
    remotes: tuple[str, ...] = ()
    port: int = 4789
    underlay_dev: str | None = None


@dataclass(frozen=True)
class PublicIp:
    """A public IP held by the router; static_nat_ip maps it 1:1 onto a guest VM."""

    address: str
    prefix: int
    gateway: str
    is_source_nat: bool = False
    static_nat_ip: str | None = None


@dataclass(frozen=True)
class Lease:
    """A static DHCP lease of one guest NIC."""

    mac: str
    ip: str
    hostname: str
    vm_uuid: str


@dataclass(frozen=True)
class VmMetadata:
    """What the metadata/userdata/password service answers for one guest IP."""

    ip: str
    instance_id: str
    local_hostname: str
    userdata: str = ""
    public_keys: tuple[str, ...] = ()
    password: str | None = None
    availability_zone: str = ""
    service_offering: str = ""
    vm_id: str = ""


@dataclass(frozen=True)
class FirewallRule:
    """Ingress rule on one public IP: what may reach it (or what is forwarded behind it)."""

    public_ip: str
    protocol: Protocol
    ports: PortRange | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    source_cidrs: tuple[str, ...] = ("0.0.0.0/0",)


@dataclass(frozen=True)
class EgressRule:
    """Egress rule: allows (policy deny) or blocks (policy allow) guest traffic out."""

    protocol: Protocol
    ports: PortRange | None = None
    destination_cidrs: tuple[str, ...] = ("0.0.0.0/0",)
    icmp_type: int | None = None
    icmp_code: int | None = None


@dataclass(frozen=True)
class PortForward:
    """DNAT of a public port (range) onto a guest IP's private port (range) of equal size."""

    public_ip: str
    public_ports: PortRange
    private_ip: str
    private_ports: PortRange
    protocol: Literal["tcp", "udp"] = "tcp"
    open_firewall: bool = True


@dataclass(frozen=True)
class HealthCheck:
    """haproxy health check of LB members: TCP connect, or HTTP GET of `path`."""

    kind: Literal["tcp", "http"] = "tcp"
    path: str = "/"
    interval_ms: int = 2000
    rise: int = 2
    fall: int = 3


@dataclass(frozen=True)
class LbRule:
    """A TCP load-balancing rule served by haproxy on a public IP."""

    name: str
    public_ip: str
    public_port: int
    private_port: int
    algorithm: LbAlgorithm = "roundrobin"
    members: tuple[str, ...] = ()
    health_check: HealthCheck | None = None
    open_firewall: bool = True


@dataclass(frozen=True)
class RouterConfig:
    """The full desired state of one isolated network's virtual router."""

    network_uuid: str
    short_id: str
    guest_cidr: str
    gateway: str
    netmask: str
    domain: str
    guest_bridge: str
    public_bridge: str
    dns: tuple[str, ...] = ()
    egress_default: EgressPolicy = "allow"
    vxlan: VxlanSpec | None = None
    vlan_id: int | None = None
    vlan_parent: str | None = None
    public_ips: tuple[PublicIp, ...] = ()
    leases: tuple[Lease, ...] = ()
    metadata: tuple[VmMetadata, ...] = ()
    firewall: tuple[FirewallRule, ...] = ()
    egress: tuple[EgressRule, ...] = ()
    port_forwards: tuple[PortForward, ...] = ()
    lb_rules: tuple[LbRule, ...] = ()
    dhcp_lease_seconds: int = field(default=86400)

    @property
    def source_nat(self) -> PublicIp | None:
        """The public IP used for source NAT, if any."""
        return next((p for p in self.public_ips if p.is_source_nat), None)


@dataclass(frozen=True)
class SgRule:
    """One security-group rule: protocol/ports and peers given as CIDRs or member IPs of a group."""

    protocol: Protocol
    ports: PortRange | None = None
    cidrs: tuple[str, ...] = ()
    group_members: tuple[str, ...] = ()
    icmp_type: int | None = None
    icmp_code: int | None = None


@dataclass(frozen=True)
class SgNic:
    """A VM NIC on a shared network with its ingress and egress security-group rules."""

    mac: str
    ip: str
    ingress: tuple[SgRule, ...] = ()
    egress: tuple[SgRule, ...] = ()


@dataclass(frozen=True)
class SecurityGroupConfig:
    """The bridge-family filtering of one shared (flat) network bridge."""

    network_uuid: str
    short_id: str
    bridge: str
    gateway: str | None = None
    nics: tuple[SgNic, ...] = ()
