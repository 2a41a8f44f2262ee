"""Micro-batching: the database phases of concurrent jobs run together in one transaction.

A job hands a phase function to a Batcher and awaits its result. Requests queued within a short
window run together, in ONE session: each request in its own SAVEPOINT (a
failing request rolls back only its own changes and gets its own exception), then an optional
`finish` step over the requests that succeeded, then a single commit. Session setup, the identity
map of shared rows (offerings, templates, networks) and the commit are so paid once per batch.
Functions run synchronously in order, so a request sees the changes of the requests before it
(placement never overcommits a host).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlmodel import Session
from virga.db import serialise_placement

if TYPE_CHECKING:
    from virga.db import Database

log = logging.getLogger(__name__)


@dataclass
class Request:
    """One queued phase of one job."""

    fn: Callable[[Session], Any]
    future: asyncio.Future[Any]
    result: Any = None
    error: BaseException | None = None


Finish = Callable[[Session, list[Request]], None]


@dataclass(frozen=True)
class Phase:
    """A kind of batched work; `finish` runs once per batch over the requests that succeeded."""

    name: str
    finish: Finish | None = field(default=None, compare=False)


class Batcher:
    """Collects the requests of one phase and runs them in shared transactions.

    A batch runs WINDOW seconds after its first request: under load that gathers the requests of
    many jobs (a few ms of latency buys far fewer sessions and commits); when idle it costs nothing.
    """

    WINDOW = 0.002

    def __init__(self, db: Database, phase: Phase) -> None:
        """A batcher of one phase on one database."""
        self.db = db
        self.phase = phase
        self._queue: list[Request] = []
        self._scheduled = False
        self.batches = 0  # how many batches ran, and how many requests they held (mean batch size)
        self.requests = 0

    async def submit(self, fn: Callable[[Session], Any]) -> Any:
        """Queue `fn(session)` for the next batch and return its result (or raise its error)."""
        loop = asyncio.get_running_loop()
        req = Request(fn, loop.create_future())
        self._queue.append(req)
        if not self._scheduled:
            self._scheduled = True
            loop.call_later(self.WINDOW, self._flush)
        return await req.future

    def _flush(self) -> None:
        """Run every queued request (those whose job was cancelled are dropped) and resolve them."""
        batch = [r for r in self._queue if not r.future.done()]
        self._queue, self._scheduled = [], False
        if batch:
            self.batches, self.requests = self.batches + 1, self.requests + len(batch)
            self.execute(batch)
        for req in batch:
            if req.future.done():
                continue
            if req.error is not None:
                req.future.set_exception(req.error)
            else:
                req.future.set_result(req.result)

    def execute(self, batch: list[Request]) -> None:
        """One session: a savepoint per request, the finish step, one commit; a failed commit fails all."""
        try:
            with self.db.session() as s:
                s.autoflush = False  # each request's changes are flushed once, when its savepoint is released
                _begin(s)
                for req in batch:
                    _one(s, req)
                done = [r for r in batch if r.error is None]
                if done and self.phase.finish is not None:
                    self.phase.finish(s, done)
                s.commit()
        except Exception as exc:
            log.warning("batch of %d %s requests failed: %s", len(batch), self.phase.name, exc)
            for req in batch:
                if req.error is None:
                    req.error, req.result = exc, None


def _one(s: Session, req: Request) -> None:
    """Run one request inside a savepoint; on error roll back only its changes."""
    savepoint = s.begin_nested()
    try:
        req.result = req.fn(s)
        savepoint.commit()
    except Exception as exc:
        if savepoint.is_active:
            savepoint.rollback()
        req.error = exc


def _begin(s: Session) -> None:
    """Open the batch's transaction now and serialise it against every other process's batches.

    SQLite: its driver would otherwise start the transaction lazily, and releasing the first SAVEPOINT
    would then commit everything before it; BEGIN IMMEDIATE takes the write lock up front, so reads that
    decide writes (placement) cannot race another process. PostgreSQL: the transaction is open already
    and rows are not locked by reads, so several management servers sharing the database would each see
    a host's free capacity and overcommit it; `pg_advisory_xact_lock` (virga.db.serialise_placement) makes
    the batches of all servers run one at a time, until each commits or rolls back.
    """
    conn = s.connection()
    if conn.dialect.name == "sqlite":
        if not conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        serialise_placement(s)
