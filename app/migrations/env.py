"""Alembic environment: the connection (or engine) comes from the caller, the metadata from virga.models."""

from __future__ import annotations

import virga.models  # noqa: F401  (registers every table)
from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

target_metadata = SQLModel.metadata


def migrate(conn: Connection) -> None:
    """Run the pending revisions on one connection and commit them."""
    context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
    conn.commit()


def run() -> None:
    """Run migrations online on the connection handed over in the config, or on a new one from its engine."""
    conn = context.config.attributes.get("connection")
    if conn is not None:
        migrate(conn)
        return
    with context.config.attributes["engine"].connect() as fresh:
        migrate(fresh)


run()
