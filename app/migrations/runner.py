"""Run Alembic migrations programmatically (no alembic.ini needed).

Revisions are append-only: 0001 is the first release schema, and every later schema change is a new
revision (`make migration MSG="..."`, see scripts/new_migration.py). A revision that has been committed
is never edited or regenerated: databases in the field were made by it, and `Database.migrate()` only
runs the revisions a database has not seen yet.
"""

from __future__ import annotations

import re
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

HERE = Path(__file__).parent
VERSIONS = HERE / "versions"
MIGRATION_LOCK = 0x76697268  # advisory lock key: one management server at a time upgrades a PostgreSQL schema


def config(engine: Engine | None = None) -> Config:
    """An Alembic config pointing at this package's scripts (files named <rev>_<slug>.py)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def heads() -> tuple[str, ...]:
    """The head revision ids of the scripts (exactly one unless two new revisions were made in parallel)."""
    return tuple(ScriptDirectory.from_config(config()).get_heads())


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database behind an engine; on PostgreSQL servers starting together take turns."""
    with engine.connect() as conn:
        pg = conn.dialect.name == "postgresql"
        if pg:
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK})")
            conn.commit()
        try:
            cfg = config(engine)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
        finally:
            if pg:
                conn.rollback()
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})")
                conn.commit()


def next_rev_id() -> str:
    """The next sequential revision id: one more than the highest NNNN_ prefix in versions/, four digits."""
    numbers = [int(m.group(1)) for p in VERSIONS.glob("*.py") if (m := re.match(r"(\d{4})_", p.name))]
    return f"{max(numbers, default=0) + 1:04d}"


def autogenerate(engine: Engine, message: str, rev_id: str | None = None) -> Path:
    """Write a new revision from the difference between the models and the database; return its path."""
    script = command.revision(config(engine), message=message, autogenerate=True, rev_id=rev_id)
    assert script is not None and not isinstance(script, list)  # one revision, one script
    return Path(script.path)
