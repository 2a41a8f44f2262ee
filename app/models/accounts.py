"""Domains, accounts, users, roles, key pairs, limits and login sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON
from sqlmodel import Field
from virga.models.base import Owned, Resource
from virga.services.secrets import Encrypted


class Domain(Resource, table=True):
    """A node of the domain tree; path is like /ROOT/child/."""

    name: str = Field(index=True)
    parent_id: int | None = Field(default=None, foreign_key="domain.id")
    path: str = Field(index=True)
    level: int = 0
    networkdomain: str | None = None
    state: str = "Active"


class Role(Resource, table=True):
    """A role; type is Admin, DomainAdmin or User."""

    name: str = Field(index=True)
    type: str
    description: str = ""
    is_default: bool = False
    rules: list[dict[str, str]] = Field(default_factory=list, sa_type=JSON)


class Account(Resource, table=True):
    """An account; accounttype 0 user, 1 root admin, 2 domain admin."""

    name: str = Field(index=True)
    domain_id: int = Field(index=True, foreign_key="domain.id")
    accounttype: int = 0
    role_id: int = Field(foreign_key="role.id")
    state: str = "enabled"
    networkdomain: str | None = None


class User(Resource, table=True):
    """A user of an account, with a password hash and API keys."""

    username: str = Field(index=True)
    account_id: int = Field(index=True, foreign_key="account.id")
    password_hash: str = ""
    firstname: str = ""
    lastname: str = ""
    email: str = ""
    apikey: str | None = Field(default=None, index=True, unique=True)
    secretkey: str | None = Field(default=None, sa_type=Encrypted)  # encrypted at rest
    state: str = "enabled"
    timezone: str | None = None
    incorrect_login_attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class LoginSession(Resource, table=True):
    """A session made by login; the sessionkey authenticates later calls."""

    sessionkey: str = Field(index=True, unique=True)
    user_id: int = Field(foreign_key="user.id")
    expires: datetime


class SSHKeyPair(Owned, table=True):
    """A public key registered or created for an account."""

    name: str = Field(index=True)
    fingerprint: str
    publickey: str


class ResourceLimit(Resource, table=True):
    """A limit of one resource type for an account or a domain; -1 is unlimited."""

    resourcetype: int = Field(index=True)
    max: int = -1
    account_id: int | None = Field(default=None, index=True, foreign_key="account.id")
    domain_id: int | None = Field(default=None, index=True, foreign_key="domain.id")
