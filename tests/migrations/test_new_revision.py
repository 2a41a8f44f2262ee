"""make migration writes the next numbered revision on top of head, and the checks see what a revision loses."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel
from virga.db import Database
from virga.migrations import runner

from tests.migrations.sample import differences, fill, read_back

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the migration scripts that the runner (and so make migration) uses instead of the real ones."""
    here = tmp_path / "migrations"
    shutil.copytree(runner.HERE, here, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    monkeypatch.setattr(runner, "HERE", here)
    monkeypatch.setattr(runner, "VERSIONS", here / "versions")
    return here


@pytest.fixture
def tool() -> ModuleType:
    """scripts/new_migration.py, the program behind make migration, as a module."""
    spec = importlib.util.spec_from_file_location("new_migration", REPO / "scripts" / "new_migration.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def model_table() -> Iterator[list[sa.Table]]:
    """Tables a test adds to the models' metadata, removed again afterwards."""
    added: list[sa.Table] = []
    yield added
    for table in added:
        SQLModel.metadata.remove(table)


def _add(added: list[sa.Table], name: str) -> None:
    """Add a small table to the models (as a model change would)."""
    cols = [sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(40), nullable=False)]
    added.append(sa.Table(name, SQLModel.metadata, *cols))


def test_make_migration_appends_numbered_revisions(
    scratch: Path, tool: ModuleType, model_table: list[sa.Table], tmp_path: Path
) -> None:
    """Each model change becomes revision N+1 revising N; 0001 is untouched; no change, no revision."""
    first = sorted(p.name for p in (scratch / "versions").glob("0*.py"))
    frozen = (scratch / "versions" / "0001_initial_schema.py").read_bytes()
    assert tool.main(["nothing"]) == 1
    assert sorted(p.name for p in (scratch / "versions").glob("0*.py")) == first
    start = int(runner.heads()[0])
    for step, name in enumerate(("widget", "gadget"), start=1):
        _add(model_table, name)
        assert tool.main([f"Add {name} table"]) == 0
        rev = f"{start + step:04d}"
        path = scratch / "versions" / f"{rev}_add_{name}_table.py"
        text = path.read_text()
        assert f"revision = '{rev}'" in text and f"down_revision = '{start + step - 1:04d}'" in text
        assert f"create_table('{name}'" in text and text.count("create_table(") == 1
        assert runner.heads() == (rev,)
    assert (scratch / "versions" / "0001_initial_schema.py").read_bytes() == frozen
    db = Database(f"sqlite:///{tmp_path}/chain.db")
    try:
        runner.upgrade(db.engine, "0001")
        inserted = fill(db.engine)
        db.migrate()
        assert {"widget", "gadget"} <= set(sa.inspect(db.engine).get_table_names())
        assert differences(inserted, read_back(db.engine, inserted)) == []
    finally:
        db.dispose()


LOSSY = '''"""a revision that loses data"""
from alembic import op

revision = "{rev}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Rename every host and drop one NIC."""
    op.execute("UPDATE host SET name = 'renamed'")
    op.execute("DELETE FROM nic WHERE id = 2")
'''


def test_a_revision_that_loses_data_is_caught(scratch: Path, tmp_path: Path) -> None:
    """The data check names what a bad revision changed or dropped."""
    head = runner.heads()[0]
    rev = f"{int(head) + 1:04d}"
    (scratch / "versions" / f"{rev}_lossy.py").write_text(LOSSY.format(rev=rev, down=head))
    db = Database(f"sqlite:///{tmp_path}/lossy.db")
    try:
        runner.upgrade(db.engine, "0001")
        inserted = fill(db.engine)
        db.migrate()
        problems = differences(inserted, read_back(db.engine, inserted))
    finally:
        db.dispose()
    assert "nic: 2 rows written, 1 after the upgrade" in problems
    assert sum(p.startswith("host.name: ") and p.endswith("became 'renamed'") for p in problems) == 2
