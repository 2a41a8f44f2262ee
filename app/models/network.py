"""Guest networks, routers, public IPs and network rules."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON
from sqlmodel import Field
from virga.models.base import Owned, Resource


class Network(Owned, table=True):
    """A guest network (isolated with a virtual router, or shared)."""

    name: str = Field(index=True)
    displaytext: str = ""
    zone_id: int = Field(index=True, foreign_key="zone.id")
    physicalnetwork_id: int | None = Field(default=None, foreign_key="physicalnetwork.id")
    networkoffering_id: int = Field(foreign_key="networkoffering.id")
    cidr: str = ""
    gateway: str = ""
    netmask: str = ""
    startip: str = ""
    endip: str = ""
    networkdomain: str = ""
    state: str = "Allocated"
    guestiptype: str = "Isolated"
    traffictype: str = "Guest"
    broadcasturi: str = ""
    vlan: str = ""
    acltype: str = "Account"
    restartrequired: bool = False
    next_ip: int = 0
    dns1: str = ""
    dns2: str = ""


class Router(Owned, table=True):
    """The virtual router serving an isolated guest network."""

    name: str = Field(index=True)
    network_id: int = Field(index=True, foreign_key="network.id")
    zone_id: int = Field(foreign_key="zone.id")
    host_id: int | None = Field(default=None, foreign_key="host.id")
    state: str = "Starting"
    publicip: str = ""
    guestipaddress: str = ""
    health: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    version: str = "1"


class PublicIpAddress(Resource, table=True):
    """A public IP of a range; allocated to an account and a network."""

    ipaddress: str = Field(index=True)
    ip_int: int = Field(index=True)
    vlan_id: int = Field(index=True, foreign_key="vlaniprange.id")
    zone_id: int = Field(index=True, foreign_key="zone.id")
    network_id: int | None = Field(default=None, index=True, foreign_key="network.id")
    account_id: int | None = Field(default=None, index=True, foreign_key="account.id")
    domain_id: int | None = Field(default=None, foreign_key="domain.id")
    state: str = Field(default="Free", index=True)
    issourcenat: bool = False
    isstaticnat: bool = False
    vm_id: int | None = Field(default=None, foreign_key="virtualmachine.id")
    vm_ip: str | None = None


class FirewallRule(Owned, table=True):
    """An ingress rule on a public IP, or an egress rule of a network."""

    ipaddress_id: int | None = Field(default=None, index=True, foreign_key="publicipaddress.id")
    network_id: int = Field(index=True, foreign_key="network.id")
    traffictype: str = "Ingress"
    protocol: str = "tcp"
    startport: int | None = None
    endport: int | None = None
    icmptype: int | None = None
    icmpcode: int | None = None
    cidrlist: str = "0.0.0.0/0"
    destcidrlist: str = ""
    state: str = "Active"


class PortForwardingRule(Owned, table=True):
    """A public port (range) of a public IP forwarded to a VM's private port (range)."""

    ipaddress_id: int = Field(index=True, foreign_key="publicipaddress.id")
    network_id: int = Field(index=True, foreign_key="network.id")
    vm_id: int = Field(index=True, foreign_key="virtualmachine.id")
    vmguestip: str = ""
    protocol: str = "tcp"
    publicport: int = 0
    publicendport: int = 0
    privateport: int = 0
    privateendport: int = 0
    cidrlist: str = ""
    state: str = "Active"
    openfirewall: bool = True


class LoadBalancerRule(Owned, table=True):
    """A load balancer on a public IP port spreading over member VMs."""

    name: str = Field(index=True)
    description: str = ""
    ipaddress_id: int = Field(index=True, foreign_key="publicipaddress.id")
    network_id: int = Field(index=True, foreign_key="network.id")
    algorithm: str = "roundrobin"
    protocol: str = "tcp"
    publicport: int = 0
    privateport: int = 0
    cidrlist: str = ""
    healthcheck: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    state: str = "Active"
    openfirewall: bool = True


class LoadBalancerMember(Resource, table=True):
    """A VM behind a load balancer rule."""

    rule_id: int = Field(index=True, foreign_key="loadbalancerrule.id")
    vm_id: int = Field(index=True, foreign_key="virtualmachine.id")
    vmip: str = ""


class SecurityGroup(Owned, table=True):
    """A security group of a shared network."""

    name: str = Field(index=True)
    description: str = ""


class SecurityGroupRule(Resource, table=True):
    """An ingress or egress rule of a security group."""

    securitygroup_id: int = Field(index=True, foreign_key="securitygroup.id")
    type: str = "ingress"
    protocol: str = "tcp"
    startport: int | None = None
    endport: int | None = None
    icmptype: int | None = None
    icmpcode: int | None = None
    cidr: str = ""
    usersecuritygroup: str = ""


class SecurityGroupVm(Resource, table=True):
    """Membership of a VM in a security group."""

    securitygroup_id: int = Field(index=True, foreign_key="securitygroup.id")
    vm_id: int = Field(index=True, foreign_key="virtualmachine.id")
