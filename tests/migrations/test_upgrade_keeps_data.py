"""A database made by revision 0001, with data in it, upgraded by the server's own migrate() loses none of it."""

from __future__ import annotations

from sqlmodel import Session, SQLModel, select
from virga.db import Database
from virga.migrations import runner

from tests.migrations.sample import ROWS, differences, fill, read_back

CORE = {
    "zone",
    "pod",
    "cluster",
    "host",
    "storagepool",
    "account",
    "user",
    "network",
    "virtualmachine",
    "volume",
    "nic",
}


def test_data_written_at_0001_survives_the_upgrade_to_head(empty_db_url: str) -> None:
    """Every row written at 0001 (zones, hosts, accounts, VMs... every table) is still there at head, same values."""
    db = Database(empty_db_url)
    try:
        runner.upgrade(db.engine, "0001")
        inserted = fill(db.engine)
        assert CORE <= inserted.keys()
        db.migrate()  # what a management server does at start (head may be 0001: then it must keep everything)
        found = read_back(db.engine, inserted)
        assert differences(inserted, found) == []
        assert CORE <= found.keys()
    finally:
        db.dispose()


def test_models_load_the_upgraded_rows(empty_db_url: str) -> None:
    """The ORM reads every upgraded row back as model objects (states and types a model accepts)."""
    db = Database(empty_db_url)
    try:
        runner.upgrade(db.engine, "0001")
        inserted = fill(db.engine)
        db.migrate()
        with Session(db.engine) as s:
            for mapper in SQLModel._sa_registry.mappers:
                table = mapper.local_table.name  # type: ignore[attr-defined]
                if table in inserted:
                    assert len(s.exec(select(mapper.class_)).all()) == ROWS, table
    finally:
        db.dispose()
