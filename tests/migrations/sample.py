"""Data for a database made by revision 0001: two rows in every table, written with plain SQL.

The rows are derived from the schema that revision 0001 actually created (reflected after upgrading to
it, and 0001 is frozen), not from today's models, so they stay what an old database holds however the
models move on. Each row gets a distinct value in every column (foreign keys point at the row with the
same number in the referenced table), strings the model's default when it has one (a realistic state
or type) and otherwise a value naming its row, table and column.
"""

from __future__ import annotations

import graphlib
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import virga.models  # noqa: F401  (registers every table)
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

ROWS = 2  # rows per table
Rows = dict[str, list[dict[str, Any]]]  # table -> its rows as inserted


def _order(insp: Any, tables: list[str]) -> list[str]:
    """The tables in foreign-key order (referenced tables first; self-references ignored)."""
    deps = {t: {fk["referred_table"] for fk in insp.get_foreign_keys(t) if fk["referred_table"] != t} for t in tables}
    return list(graphlib.TopologicalSorter(deps).static_order())


def _default_text(table: str, column: str) -> str | None:
    """The model's non-empty string default for a column, if it has one (realistic states and types)."""
    col = SQLModel.metadata.tables.get(table, sa.Table(table, sa.MetaData())).columns.get(column)
    arg = getattr(col.default, "arg", None) if col is not None and col.default is not None else None
    return arg if isinstance(arg, str) and arg else None


def _unique(insp: Any, table: str) -> set[str]:
    """The columns of a table that a unique index or constraint covers (they never get a shared default)."""
    groups = [i["column_names"] for i in insp.get_indexes(table) if i["unique"]]
    groups += [u["column_names"] for u in insp.get_unique_constraints(table)]
    return {c for g in groups for c in g if c}


def _value(table: str, col: dict[str, Any], pos: int, row: int, fks: dict[str, tuple[str, str]]) -> Any:
    """The value row `row` (1-based) gets in one column, by its reflected type."""
    name, kind = col["name"], col["type"]
    if name in fks:
        return row if fks[name][0] != table else (None if col["nullable"] else row)
    if col.get("primary_key_pos") is not None and isinstance(kind, sa.Integer):
        return row
    if isinstance(kind, sa.Boolean):
        return (row + pos) % 2 == 0
    if isinstance(kind, sa.Integer):
        return 1000 * row + pos
    if isinstance(kind, sa.Float):
        return row + pos + 0.5
    if isinstance(kind, sa.DateTime):
        return datetime(2026, 1, 2, 3, pos % 60, row, tzinfo=UTC)
    if isinstance(kind, sa.JSON):
        return {"table": table, "column": name, "row": row}
    if isinstance(kind, sa.String):
        text = (None if col["unique"] else _default_text(table, name)) or f"{row}-{table}-{name}"
        return text[: kind.length] if kind.length else text
    raise AssertionError(f"no sample value for {table}.{name} of type {kind!r}")


def _insert(conn: Connection, table: str, columns: list[dict[str, Any]], values: dict[str, Any]) -> None:
    """INSERT one row with a plain SQL statement, binding each value with the column's 0001 type."""
    q = conn.dialect.identifier_preparer.quote
    names = [c["name"] for c in columns]
    stmt = sa.text(
        f"INSERT INTO {q(table)} ({', '.join(q(n) for n in names)}) VALUES ({', '.join(f':{n}' for n in names)})"
    ).bindparams(*[sa.bindparam(c["name"], type_=c["type"]) for c in columns])
    conn.execute(stmt, values)


def fill(engine: Engine) -> Rows:
    """Insert ROWS rows into every table of a database at revision 0001; return what was inserted."""
    insp = sa.inspect(engine)
    tables = [t for t in insp.get_table_names() if t != "alembic_version"]
    inserted: Rows = {}
    with engine.begin() as conn:
        for table in _order(insp, tables):
            pk = insp.get_pk_constraint(table)["constrained_columns"]
            fks = {
                c: (fk["referred_table"], fk["referred_columns"][0])
                for fk in insp.get_foreign_keys(table)
                for c in fk["constrained_columns"]
            }
            unique = _unique(insp, table) | set(pk)
            columns = [
                dict(c, primary_key_pos=pk.index(c["name"]) if c["name"] in pk else None, unique=c["name"] in unique)
                for c in insp.get_columns(table)
            ]
            inserted[table] = []
            for row in range(1, ROWS + 1):
                values = {c["name"]: _value(table, c, pos, row, fks) for pos, c in enumerate(columns)}
                _insert(conn, table, columns, values)
                inserted[table].append(values)
            if conn.dialect.name == "postgresql" and "id" in pk:
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), {ROWS})")
    return inserted


def normal(value: Any) -> Any:
    """A value in a form comparable across dialects and column types (datetimes as naive UTC)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    return value


def read_back(engine: Engine, inserted: Rows) -> Rows:
    """Each filled table's rows as today's models read them (their column types), ordered by primary key."""
    found: Rows = {}
    with engine.connect() as conn:
        for name in inserted:
            table = SQLModel.metadata.tables.get(name)
            if table is None:
                continue
            rows = conn.execute(sa.select(table).order_by(*table.primary_key.columns)).mappings().all()
            found[name] = [dict(r) for r in rows]
    return found


def differences(inserted: Rows, found: Rows) -> list[str]:
    """What the upgrade lost or changed: missing rows, changed values (tables and columns dropped since are skipped)."""
    problems = []
    for table, rows in inserted.items():
        if table not in found:
            continue  # a later revision dropped the table on purpose
        if len(found[table]) != len(rows):
            problems.append(f"{table}: {len(rows)} rows written, {len(found[table])} after the upgrade")
            continue
        for before, after in zip(rows, found[table], strict=True):
            problems += [
                f"{table}.{c}: {normal(v)!r} became {normal(after[c])!r}"
                for c, v in before.items()
                if c in after and normal(v) != normal(after[c])
            ]
    return problems
