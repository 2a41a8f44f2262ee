"""Database engine and sessions: SQLite in WAL mode by default, PostgreSQL with the same code."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine, select

_BY_COLUMN: dict[tuple[type, str], Any] = {}


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, NORMAL sync and a busy timeout."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            from virga.services.secrets import private_sqlite

            private_sqlite(path)  # data directory 0700, database files 0600
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """Turn on WAL, foreign keys and a sane sync level for each new SQLite connection."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA cache_size=-65536")
    cur.close()


PLACEMENT_LOCK = 0x76697267  # "virg": the advisory lock key every server takes before deciding placement


def serialise_placement(s: Session) -> None:
    """Make the session's transaction the only one deciding placement now, across every management server.

    On PostgreSQL this takes a transaction-scoped advisory lock (released by COMMIT or ROLLBACK): two
    servers sharing a database then read host capacity one after the other, each seeing the other's
    committed reservations (READ COMMITTED gives every statement a fresh snapshot), and never overcommit
    a host. SQLite needs nothing here: its single writer lock serialises writers already (see batch._begin).
    """
    conn = s.connection()
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PLACEMENT_LOCK})")


class Database:
    """One engine and the sessions made from it."""

    def __init__(self, url: str) -> None:
        """Create the engine for a URL."""
        self.url = url
        self.engine = make_engine(url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that rolls back on error; callers commit explicitly."""
        with Session(self.engine, expire_on_commit=False) as s:
            try:
                yield s
            except BaseException:
                s.rollback()
                raise

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        from virga.migrations.runner import upgrade

        upgrade(self.engine)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def by_column(model: type, column: str, *, many: bool = False) -> Any:
    """A SELECT of a model's rows by one column, built once and reused (bind its value, or list with many, as `v`).

    Reusing the statement object skips building the expression and its cache key on every call,
    which is most of SQLAlchemy's cost for the small lookups each API request and job makes.
    """
    key = (model, column + ("[]" if many else ""))
    stmt = _BY_COLUMN.get(key)
    if stmt is None:
        col = getattr(model, column)
        cond = col.in_(bindparam("v", expanding=True)) if many else col == bindparam("v")
        stmt = _BY_COLUMN[key] = select(model).where(cond)
    return stmt


def memo(s: Session, key: Any, make: Callable[[], Any]) -> Any:
    """A value computed once per session (one transaction), e.g. a row every request of a batch reads.

    The session holds it strongly (its identity map alone is weak, so a row nobody references would be
    loaded again); it is dropped with the session, so nothing outlives the transaction that read it.
    """
    store = s.info.setdefault("virga.memo", {})
    if key not in store:
        store[key] = make()
    return store[key]


_INSERTS: dict[type, tuple[Any, list[tuple[str, bool, Any]]]] = {}


def _insert_of(model: type) -> tuple[Any, list[tuple[str, bool, Any]]]:
    """A model's INSERT statement and its (column, is callable, default) list, built once."""
    found = _INSERTS.get(model)
    if found is None:
        table = model.__table__  # type: ignore[attr-defined]
        found = _INSERTS[model] = (
            table.insert(),
            [(c.name, bool(c.default.is_callable), c.default.arg) for c in table.columns if c.default is not None],
        )
    return found


def insert_row(s: Session, model: type, values: dict[str, Any]) -> SimpleNamespace:
    """Insert one row with a Core statement on the session's connection: no ORM object, no unit of work.

    For hot paths (deploy) that write a row nobody reads back through the session. Column defaults are
    filled here, so the returned namespace carries every value the row got, including its id.
    """
    stmt, defaults = _insert_of(model)
    row = dict(values)
    for name, is_callable, default in defaults:
        if name not in row:
            row[name] = default(None) if is_callable else default
    key = s.connection().execute(stmt, row).inserted_primary_key
    assert key is not None  # an INSERT always has one
    row["id"] = key[0]
    return SimpleNamespace(**row)
