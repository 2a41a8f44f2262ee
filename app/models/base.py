"""Columns every persisted resource shares: an internal id, a public UUID, timestamps."""

from __future__ import annotations

import uuid as _uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import BigInteger, Integer, MetaData
from sqlmodel import Field, SQLModel

if TYPE_CHECKING:
    from sqlalchemy import Table


def new_uuid() -> str:
    """A fresh public id."""
    return str(_uuid.uuid4())


def utcnow() -> datetime:
    """The current time in UTC (timezone-aware, whole seconds)."""
    return datetime.now(UTC).replace(microsecond=0)


class Resource(SQLModel):
    """Base of every table with a public UUID."""

    if TYPE_CHECKING:  # set by SQLModel's metaclass on each table model; its typing does not declare it
        __table__: ClassVar[Table]

    id: int | None = Field(default=None, primary_key=True)
    uuid: str = Field(default_factory=new_uuid, index=True, unique=True, max_length=40)
    created: datetime = Field(default_factory=utcnow)
    removed: datetime | None = Field(default=None, index=True)


class Owned(Resource):
    """A resource that belongs to an account in a domain."""

    account_id: int = Field(index=True, foreign_key="account.id")
    domain_id: int = Field(index=True, foreign_key="domain.id")


def widen_integers(metadata: MetaData) -> None:
    """Make every plain `int` column (not a primary or foreign key) a BIGINT, so it means the same everywhere.

    SQLite's INTEGER holds 64 bits but PostgreSQL's holds 32: byte counts (memorytotal, capacitybytes,
    sizes) and IPv4 addresses as integers (ip_int, 198.51.100.10 > 2**31) overflow it. Ids stay INTEGER:
    on SQLite only an INTEGER PRIMARY KEY is the rowid alias that autoincrements.
    """
    for table in metadata.tables.values():
        for col in table.columns:
            if type(col.type) is Integer and not col.primary_key and not col.foreign_keys:
                col.type = BigInteger()
