"""Write the next Alembic revision (NNNN_<slug>.py) from the difference between the models and head.

Usage: make migration MSG="add volume encryption". Autogenerates against a throwaway SQLite database
upgraded to the current head, so the new revision holds only what changed since then; its
down_revision is that head. Existing revisions are never rewritten (see virga.migrations.runner).
Read the generated file before committing it: autogenerate cannot tell a rename from drop + add,
and data changes (backfills, re-encoding values) must be written by hand.
"""

from __future__ import annotations

import sys
import tempfile

import virga.models  # noqa: F401  (registers every table)
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel
from virga.db import make_engine
from virga.migrations.runner import autogenerate, heads, next_rev_id, upgrade


def main(argv: list[str]) -> int:
    """Create the new revision named by the message in argv; refuse when there is nothing to migrate."""
    message = " ".join(argv).strip()
    if not message:
        print('usage: make migration MSG="what changes"', file=sys.stderr)
        return 2
    if len(heads()) != 1:
        print(f"several heads {heads()}: renumber or merge the parallel revisions first", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as d:
        engine = make_engine(f"sqlite:///{d}/head.db")
        upgrade(engine)
        with engine.connect() as conn:
            changes = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        if not changes:
            print("the models match the head revision: no migration written", file=sys.stderr)
            return 1
        path = autogenerate(engine, message, rev_id=next_rev_id())
        engine.dispose()
    print(f"wrote {path} ({len(changes)} changes); review it, then run the tests in tests/migrations")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
