"""The migrations are the models: an empty database upgraded to head has exactly the models' schema."""

from __future__ import annotations

import hashlib
import re

import virga.models  # noqa: F401  (registers every table)
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel
from virga.db import Database
from virga.migrations import runner

# 0001 is the first release schema: databases in the field were made by it, so it is never edited.
# A schema change is a new revision (make migration MSG="..."); this digest only changes if 0001 does.
FROZEN_0001 = "0c11f3d8a8ce7846f190ff2c1e35af19787baed5c997912294115724119f8017"


def test_empty_database_upgraded_to_head_matches_the_models(empty_db_url: str) -> None:
    """Upgrading an empty database (SQLite and PostgreSQL) to head leaves no difference from virga's models."""
    db = Database(empty_db_url)
    try:
        db.migrate()
        with db.engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_heads() == runner.heads()
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    finally:
        db.dispose()
    assert diff == [], "the models changed without a migration: run make migration MSG='...'"


def test_revisions_form_one_numbered_chain() -> None:
    """Revisions are 0001, 0002, ... in files named after them, each revising the one before: a single head."""
    script = ScriptDirectory.from_config(runner.config())
    revs = list(reversed(list(script.walk_revisions())))
    assert len(runner.heads()) == 1, f"several heads {runner.heads()}: renumber or merge parallel revisions"
    for number, rev in enumerate(revs, start=1):
        assert rev.revision == f"{number:04d}"
        assert rev.down_revision == (None if number == 1 else f"{number - 1:04d}")
        assert rev.path is not None and re.fullmatch(rf"{rev.revision}_\w+\.py", rev.path.rsplit("/", 1)[-1])


def test_first_release_revision_is_frozen() -> None:
    """0001 is byte for byte the first release schema (new schema changes go into new revisions)."""
    text = (runner.VERSIONS / "0001_initial_schema.py").read_bytes()
    assert hashlib.sha256(text).hexdigest() == FROZEN_0001, "0001 was edited: put the change in a new revision"
