"""The data model: CloudStack's vocabulary as SQLModel tables."""

from virga.models.accounts import Account, Domain, LoginSession, ResourceLimit, Role, SSHKeyPair, User
from virga.models.base import Owned, Resource, new_uuid, utcnow, widen_integers
from virga.models.compute import (
    Nic,
    OsCategory,
    OsType,
    Snapshot,
    SnapshotPolicy,
    Template,
    VirtualMachine,
    VMSnapshot,
    Volume,
)
from virga.models.infra import (
    Cluster,
    Host,
    ImageStore,
    NetworkServiceProvider,
    PhysicalNetwork,
    Pod,
    StoragePool,
    TrafficType,
    VlanIpRange,
    Zone,
)
from virga.models.misc import Alert, AsyncJob, Configuration, Event, ManagementServer, ResourceTag
from virga.models.network import (
    FirewallRule,
    LoadBalancerMember,
    LoadBalancerRule,
    Network,
    PortForwardingRule,
    PublicIpAddress,
    Router,
    SecurityGroup,
    SecurityGroupRule,
    SecurityGroupVm,
)
from virga.models.offerings import DiskOffering, NetworkOffering, ServiceOffering

__all__ = [
    "Account", "Alert", "AsyncJob", "Cluster", "Configuration", "DiskOffering", "Domain", "Event",
    "FirewallRule", "Host", "ImageStore", "LoadBalancerMember", "LoadBalancerRule", "LoginSession",
    "ManagementServer", "Network", "NetworkOffering", "NetworkServiceProvider", "Nic", "OsCategory",
    "OsType", "Owned", "PhysicalNetwork", "Pod", "PortForwardingRule", "PublicIpAddress", "Resource",
    "ResourceLimit", "ResourceTag", "Role", "Router", "SSHKeyPair", "SecurityGroup", "SecurityGroupRule",
    "SecurityGroupVm", "ServiceOffering", "Snapshot", "SnapshotPolicy", "StoragePool", "Template",
    "TrafficType", "User", "VMSnapshot", "VirtualMachine", "VlanIpRange", "Volume", "Zone",
    "new_uuid", "utcnow",
]

widen_integers(Resource.metadata)  # every table is defined by now: PostgreSQL's INTEGER is 32-bit
