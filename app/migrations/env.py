"""Alembic environment: the engine comes from the caller, the metadata from virga.models."""

from __future__ import annotations

import virga.models  # noqa: F401  (registers every table)
from alembic import context
from sqlmodel import SQLModel

target_metadata = SQLModel.metadata


def run() -> None:
    """Run migrations online against the engine handed over in the config."""
    engine = context.config.attributes["engine"]
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        conn.commit()


run()
