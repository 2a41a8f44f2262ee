"""Service, disk and network offerings."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON
from sqlmodel import Field
from virga.models.base import Resource


class ServiceOffering(Resource, table=True):
    """CPU, memory and placement hints for VMs."""

    name: str = Field(index=True)
    displaytext: str = ""
    cpunumber: int | None = None
    cpuspeed: int | None = None
    memory: int | None = None
    storagetype: str = "shared"
    offerha: bool = False
    limitcpuuse: bool = False
    hosttags: str = ""
    tags: str = ""
    iscustomized: bool = False
    rootdisksize: int = 0
    domain_id: int | None = Field(default=None, foreign_key="domain.id")
    state: str = "Active"
    issystem: bool = False


class DiskOffering(Resource, table=True):
    """Size (fixed or custom) and storage tags for data volumes."""

    name: str = Field(index=True)
    displaytext: str = ""
    disksize: int = 0
    iscustomized: bool = False
    storagetype: str = "shared"
    tags: str = ""
    provisioningtype: str = "thin"
    domain_id: int | None = Field(default=None, foreign_key="domain.id")
    state: str = "Active"


class NetworkOffering(Resource, table=True):
    """What a guest network provides and how."""

    name: str = Field(index=True)
    displaytext: str = ""
    guestiptype: str = "Isolated"
    traffictype: str = "Guest"
    services: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    specifyvlan: bool = False
    specifyipranges: bool = False
    egressdefaultpolicy: bool = True
    conservemode: bool = True
    isdefault: bool = False
    availability: str = "Optional"
    state: str = "Disabled"
    networkrate: int = 200


class LaunchPermission(Resource, table=True):
    """An account allowed to use another account's template or ISO (updateTemplatePermissions)."""

    template_id: int = Field(index=True, foreign_key="template.id")
    account_id: int = Field(index=True, foreign_key="account.id")
