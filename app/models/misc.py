"""Tags, events, alerts, async jobs, configuration and management servers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel
from virga.models.base import Resource, utcnow


class ResourceTag(Resource, table=True):
    """A key/value tag on any resource."""

    __table_args__ = (Index("ix_tag_resource", "resourcetype", "resource_id"),)

    key: str = Field(index=True)
    value: str = ""
    resourcetype: str
    resource_id: int
    resource_uuid: str = ""
    account_id: int | None = Field(default=None, foreign_key="account.id")
    domain_id: int | None = Field(default=None, foreign_key="domain.id")


class Event(Resource, table=True):
    """Something that happened, for the events log."""

    type: str = Field(index=True)
    level: str = "INFO"
    description: str = ""
    state: str = "Completed"
    account_id: int | None = Field(default=None, index=True, foreign_key="account.id")
    domain_id: int | None = Field(default=None, foreign_key="domain.id")
    user_id: int | None = None
    resourcetype: str = ""
    resource_uuid: str = ""


class Alert(Resource, table=True):
    """A condition an operator should look at."""

    type: int = 0
    name: str = ""
    subject: str = ""
    description: str = ""
    zone_id: int | None = None
    pod_id: int | None = None
    cluster_id: int | None = None
    host_id: int | None = None
    archived: bool = Field(default=False, index=True)


class AsyncJob(Resource, table=True):
    """A persisted job: queued, running, succeeded or failed."""

    __table_args__ = (Index("ix_job_queue", "state", "id"),)

    cmd: str = ""
    command: str = ""
    params: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    account_id: int | None = Field(default=None, index=True, foreign_key="account.id")
    domain_id: int | None = None
    user_id: int | None = None
    state: str = "queued"
    status: int = 0
    procstatus: int = 0
    resultcode: int = 0
    resulttype: str = "object"
    result: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    instancetype: str = ""
    instance_uuid: str = ""
    owner: str | None = Field(default=None, index=True)
    claimed: datetime | None = None
    completed: datetime | None = None


class Configuration(SQLModel, table=True):
    """A global setting with its category and description."""

    name: str = Field(primary_key=True)
    value: str = ""
    category: str = "Advanced"
    description: str = ""
    defaultvalue: str = ""


class ManagementServer(Resource, table=True):
    """A running management server; its heartbeat tells others it is alive."""

    name: str = Field(index=True)
    state: str = "Up"
    version: str = ""
    lastseen: datetime = Field(default_factory=utcnow)
