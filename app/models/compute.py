"""OS types, templates, VMs, NICs, volumes and snapshots."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index
from sqlmodel import Field
from virga.models.base import Owned, Resource
from virga.services.secrets import Encrypted


class OsCategory(Resource, table=True):
    """A family of guest operating systems."""

    name: str = Field(index=True)


class OsType(Resource, table=True):
    """A guest operating system."""

    description: str = Field(index=True)
    oscategory_id: int = Field(foreign_key="oscategory.id")


class Template(Owned, table=True):
    """A template or ISO; zone_id null means every zone."""

    name: str = Field(index=True)
    displaytext: str = ""
    format: str = "QCOW2"
    hypervisor: str = "Simulator"
    ostype_id: int | None = Field(default=None, foreign_key="ostype.id")
    zone_id: int | None = Field(default=None, index=True, foreign_key="zone.id")
    url: str = ""
    checksum: str = ""
    install_path: str = ""
    isready: bool = False
    status: str = ""
    size: int = 0
    physicalsize: int = 0
    ispublic: bool = False
    isfeatured: bool = False
    isextractable: bool = False
    passwordenabled: bool = False
    bootable: bool = True
    is_iso: bool = Field(default=False, index=True)
    templatetype: str = "USER"
    state: str = "Active"
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class VirtualMachine(Owned, table=True):
    """A guest VM."""

    name: str = Field(index=True)
    displayname: str = ""
    instancename: str = ""
    state: str = Field(default="Stopped", index=True)
    zone_id: int = Field(index=True, foreign_key="zone.id")
    pod_id: int | None = Field(default=None, foreign_key="pod.id")
    host_id: int | None = Field(default=None, index=True, foreign_key="host.id")
    last_host_id: int | None = Field(default=None, foreign_key="host.id")
    template_id: int = Field(foreign_key="template.id")
    iso_id: int | None = Field(default=None, foreign_key="template.id")
    serviceoffering_id: int = Field(foreign_key="serviceoffering.id")
    cpunumber: int = 1
    cpuspeed: int = 0
    memory: int = 0
    haenable: bool = False
    hypervisor: str = ""
    userdata: str = ""
    keypair: str = ""
    password: str = Field(default="", sa_type=Encrypted)  # encrypted at rest
    group: str = ""
    displayvm: bool = True
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class Nic(Resource, table=True):
    """A NIC of a VM (or of a virtual router) on a guest network."""

    __table_args__ = (
        Index("ix_nic_net_ip", "network_id", "ip_int"),
        Index("ix_nic_net_mac", "network_id", "macaddress"),
    )

    vm_id: int | None = Field(default=None, index=True, foreign_key="virtualmachine.id")
    network_id: int = Field(index=True, foreign_key="network.id")
    ipaddress: str | None = None
    ip_int: int | None = Field(default=None, index=True)
    netmask: str = ""
    gateway: str = ""
    macaddress: str = ""
    isdefault: bool = True
    deviceid: int = 0
    broadcasturi: str = ""
    isolationuri: str = ""
    traffictype: str = "Guest"
    type: str = "Isolated"


class Volume(Owned, table=True):
    """A ROOT or DATADISK volume."""

    name: str = Field(index=True)
    type: str = "DATADISK"
    zone_id: int = Field(index=True, foreign_key="zone.id")
    pool_id: int | None = Field(default=None, index=True, foreign_key="storagepool.id")
    vm_id: int | None = Field(default=None, index=True, foreign_key="virtualmachine.id")
    deviceid: int | None = None
    size: int = 0
    physicalsize: int = 0
    diskoffering_id: int | None = Field(default=None, foreign_key="diskoffering.id")
    template_id: int | None = Field(default=None, foreign_key="template.id")
    path: str = ""
    format: str = "QCOW2"
    state: str = Field(default="Allocated", index=True)
    attached: datetime | None = None
    store_url: str = ""  # nfs:// URL of its file on the image store (an upload awaiting attach, or an extract)


class Snapshot(Owned, table=True):
    """A volume snapshot, on primary and backed up to secondary storage."""

    name: str = ""
    volume_id: int = Field(index=True, foreign_key="volume.id")
    zone_id: int = Field(foreign_key="zone.id")
    snapshottype: str = "MANUAL"
    intervaltype: str = "MANUAL"
    state: str = "Allocated"
    size: int = 0
    physicalsize: int = 0
    path: str = ""
    backup_path: str = ""
    locationtype: str = "PRIMARY"
    policy_id: int | None = Field(default=None, index=True)


class SnapshotPolicy(Resource, table=True):
    """A recurring snapshot schedule for a volume."""

    volume_id: int = Field(index=True, foreign_key="volume.id")
    intervaltype: str = "DAILY"
    schedule: str = "00:00"
    timezone: str = "UTC"
    maxsnaps: int = 8
    last_run: datetime | None = None


class VMSnapshot(Owned, table=True):
    """A snapshot of a whole VM (disks, optionally memory)."""

    name: str = ""
    displayname: str = ""
    description: str = ""
    vm_id: int = Field(index=True, foreign_key="virtualmachine.id")
    zone_id: int = Field(foreign_key="zone.id")
    type: str = "Disk"
    state: str = "Allocated"
    current: bool = False
    parent_id: int | None = None
    memory: bool = False
