"""Zones, pods, clusters, hosts, storage pools, image stores, physical networks and IP ranges."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index
from sqlmodel import Field
from virga.models.base import Resource
from virga.services.secrets import Encrypted


class Zone(Resource, table=True):
    """An availability zone."""

    name: str = Field(index=True)
    description: str = ""
    networktype: str = "Advanced"
    dns1: str = ""
    dns2: str = ""
    internaldns1: str = ""
    internaldns2: str = ""
    guestcidraddress: str = "10.1.1.0/24"
    domain: str = "cloud.internal"
    allocationstate: str = "Enabled"
    securitygroupsenabled: bool = False
    localstorageenabled: bool = False
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class Pod(Resource, table=True):
    """A pod (rack) within a zone."""

    name: str = Field(index=True)
    zone_id: int = Field(index=True, foreign_key="zone.id")
    gateway: str = ""
    netmask: str = ""
    startip: str = ""
    endip: str = ""
    allocationstate: str = "Enabled"


class Cluster(Resource, table=True):
    """A cluster of same-hypervisor hosts within a pod."""

    name: str = Field(index=True)
    zone_id: int = Field(index=True, foreign_key="zone.id")
    pod_id: int = Field(index=True, foreign_key="pod.id")
    hypervisor: str = "Simulator"
    clustertype: str = "CloudManaged"
    allocationstate: str = "Enabled"
    managedstate: str = "Managed"
    url: str = ""
    cpuovercommitratio: float | None = None
    memoryovercommitratio: float | None = None


class Host(Resource, table=True):
    """A hypervisor host and its allocated capacity."""

    __table_args__ = (Index("ix_host_alloc", "zone_id", "memoryallocated", "id"),)  # placement walks it in order

    name: str = Field(index=True)
    zone_id: int = Field(index=True, foreign_key="zone.id")
    pod_id: int = Field(index=True, foreign_key="pod.id")
    cluster_id: int = Field(index=True, foreign_key="cluster.id")
    type: str = "Routing"
    hypervisor: str = "Simulator"
    hypervisorversion: str = ""
    url: str = ""
    username: str | None = None
    password: str | None = Field(default=None, sa_type=Encrypted)  # encrypted at rest
    private_key: str | None = Field(default=None, sa_type=Encrypted)
    ipaddress: str = ""
    state: str = Field(default="Connecting", index=True)
    resourcestate: str = Field(default="Enabled", index=True)
    cpunumber: int = 0
    cpuspeed: int = 0
    cpumodel: str = ""
    memorytotal: int = 0
    cpuallocated: int = 0
    memoryallocated: int = 0
    hosttags: str = ""
    accelerator: str = ""
    capabilities: str = ""
    lastpinged: datetime | None = None
    disconnected: datetime | None = None
    options: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class StoragePool(Resource, table=True):
    """Primary storage: per cluster, or zone-wide when cluster_id is null."""

    name: str = Field(index=True)
    zone_id: int = Field(index=True, foreign_key="zone.id")
    pod_id: int | None = Field(default=None, foreign_key="pod.id")
    cluster_id: int | None = Field(default=None, index=True, foreign_key="cluster.id")
    scope: str = "CLUSTER"
    type: str = "Filesystem"
    url: str = ""
    path: str = ""
    ipaddress: str = ""
    capacitybytes: int = 0
    allocatedbytes: int = 0
    usedbytes: int = 0
    tags: str = ""
    state: str = "Up"
    hypervisor: str | None = None
    overprovisionfactor: float = 2.0


class ImageStore(Resource, table=True):
    """Secondary storage holding templates, ISOs and snapshots."""

    name: str = Field(index=True)
    zone_id: int | None = Field(default=None, index=True, foreign_key="zone.id")
    url: str = ""
    protocol: str = "nfs"
    providername: str = "NFS"
    scope: str = "ZONE"
    capacitybytes: int = 0
    usedbytes: int = 0
    readonly: bool = False


class PhysicalNetwork(Resource, table=True):
    """A physical network of a zone."""

    name: str = Field(index=True)
    zone_id: int = Field(index=True, foreign_key="zone.id")
    isolationmethods: str = "VXLAN"
    vlan: str = ""
    broadcastdomainrange: str = "ZONE"
    state: str = "Disabled"
    tags: str = ""
    next_vni: int = 0


class TrafficType(Resource, table=True):
    """A traffic type (Guest, Public, Management, Storage) carried by a physical network."""

    physicalnetwork_id: int = Field(index=True, foreign_key="physicalnetwork.id")
    traffictype: str
    kvmnetworklabel: str = ""
    xennetworklabel: str = ""
    vmwarenetworklabel: str = ""


class NetworkServiceProvider(Resource, table=True):
    """A network service provider (VirtualRouter, SecurityGroupProvider) of a physical network."""

    name: str
    physicalnetwork_id: int = Field(index=True, foreign_key="physicalnetwork.id")
    state: str = "Disabled"
    servicelist: str = ""


class VlanIpRange(Resource, table=True):
    """A public (or shared guest) IP range."""

    zone_id: int = Field(index=True, foreign_key="zone.id")
    pod_id: int | None = Field(default=None, foreign_key="pod.id")
    physicalnetwork_id: int | None = Field(default=None, foreign_key="physicalnetwork.id")
    network_id: int | None = Field(default=None, index=True, foreign_key="network.id")
    vlan: str = "untagged"
    gateway: str = ""
    netmask: str = ""
    startip: str = ""
    endip: str = ""
    start_int: int = 0
    end_int: int = 0
    forvirtualnetwork: bool = True
    account_id: int | None = Field(default=None, foreign_key="account.id")
    domain_id: int | None = Field(default=None, foreign_key="domain.id")


class VirtualRouterElement(Resource, table=True):
    """The VirtualRouter element of a network service provider (what zone wizards enable)."""

    nsp_id: int = Field(index=True, foreign_key="networkserviceprovider.id")
    enabled: bool = False
