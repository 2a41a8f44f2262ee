"""The job engine: jobs persisted in the database, claimed through it, run on asyncio workers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlmodel import Session, select
from virga.drivers.base import DriverError, HostUnreachable, NotSupported
from virga.errors import CloudError, InternalError, Unavailable
from virga.jobs.undo import UndoStack
from virga.models import AsyncJob, utcnow

if TYPE_CHECKING:
    from virga.api.context import Ctx
    from virga.core import VirgaApp

log = logging.getLogger(__name__)

JobBody = Callable[["JobRun"], Awaitable[dict[str, Any]]]
Recover = Callable[["JobRun"], Awaitable[None]]
BODIES: dict[str, JobBody] = {}
RECOVERS: dict[str, Recover] = {}
RESTART_TEXT = "The management server restarted while this job was running; its changes were rolled back"


def job_body(command: str) -> Callable[[JobBody], JobBody]:
    """Register the asynchronous body of a command."""

    def deco(fn: JobBody) -> JobBody:
        BODIES[command] = fn
        return fn

    return deco


def job_recover(command: str) -> Callable[[Recover], Recover]:
    """Register how to reconcile a command's resources when its job died with a server."""

    def deco(fn: Recover) -> Recover:
        RECOVERS[command] = fn
        return fn

    return deco


def to_cloud_error(exc: BaseException) -> CloudError:
    """Map any failure to a CloudError with a clear text."""
    if isinstance(exc, CloudError):
        return exc
    if isinstance(exc, NotSupported):
        return CloudError(str(exc), 432)
    if isinstance(exc, HostUnreachable):
        return Unavailable(str(exc))
    if isinstance(exc, DriverError):
        return InternalError(str(exc))
    return InternalError(f"{type(exc).__name__}: {exc}")


@dataclass
class JobRun:
    """A running job as its body sees it."""

    app: VirgaApp
    job_id: int
    uuid: str
    command: str
    params: dict[str, Any]
    user_id: int | None
    instance_uuid: str
    undo: UndoStack

    @contextmanager
    def db(self) -> Iterator[Session]:
        """A fresh database session (never hold one across an await)."""
        with self.app.db.session() as s:
            yield s

    @contextmanager
    def ctx(self) -> Iterator[Ctx]:
        """A call context as the job's user, for serialising results."""
        with self.app.db.session() as s:
            yield self.app.ctx_for_user(s, self.user_id)

    def progress(self, percent: int) -> None:
        """Record progress (jobprocstatus)."""
        with self.db() as s:
            s.exec(update(AsyncJob).where(AsyncJob.id == self.job_id).values(procstatus=percent))  # type: ignore[call-overload]
            s.commit()


class JobEngine:
    """Claims queued jobs from the database and runs them on a pool of asyncio workers."""

    def __init__(self, app: VirgaApp, workers: int, owner: str) -> None:
        """Prepare; nothing runs until start()."""
        self.app = app
        self.workers = workers
        self.owner = owner
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._running: set[int] = set()
        self.stopping = False

    def submit(self, s: Session, job: AsyncJob) -> AsyncJob:
        """Add a queued job to the caller's transaction; call notify() after commit."""
        job.state = "queued"
        s.add(job)
        return job

    def notify(self) -> None:
        """Wake the workers: a job was queued."""
        self._wake.set()

    async def start(self) -> None:
        """Recover jobs a previous incarnation left running, then start the workers."""
        await self.recover()
        self.stopping = False
        self._tasks = [asyncio.create_task(self._worker(i)) for i in range(self.workers)]

    async def stop(self) -> None:
        """Stop the workers (running jobs are cancelled and recovered on next start)."""
        self.stopping = True
        self._wake.set()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def _claim(self) -> AsyncJob | None:
        """Atomically take the oldest queued job, through the database."""
        with self.app.db.session() as s:
            ids = s.exec(select(AsyncJob.id).where(AsyncJob.state == "queued").order_by(AsyncJob.id).limit(8)).all()
            for jid in ids:
                res = s.exec(  # type: ignore[call-overload]
                    update(AsyncJob).where(AsyncJob.id == jid, AsyncJob.state == "queued")
                    .values(state="running", owner=self.owner, claimed=utcnow())
                )
                s.commit()
                if res.rowcount == 1:
                    return s.get(AsyncJob, jid)
        return None

    async def _worker(self, index: int) -> None:
        """Claim and run jobs until stopped."""
        while not self.stopping:
            job = self._claim()
            if job is None:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=0.5)
                except TimeoutError:
                    pass
                continue
            await self.run(job)

    async def run(self, job: AsyncJob) -> None:
        """Run one claimed job's body and record its result or error."""
        assert job.id is not None
        self._running.add(job.id)
        run = JobRun(self.app, job.id, job.uuid, job.command, dict(job.params), job.user_id,
                     job.instance_uuid, UndoStack())
        try:
            body = BODIES.get(job.command)
            if body is None:
                raise InternalError(f"no job body is registered for {job.command}")
            async with run.undo:
                result = await body(run)
            self._finish(job.id, 1, 0, result)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            err = to_cloud_error(exc)
            if not isinstance(exc, CloudError | DriverError):
                log.exception("job %s (%s) failed", job.uuid, job.command)
            self._finish(job.id, 2, err.code, {"errorcode": err.code, "errortext": err.text})
        finally:
            self._running.discard(job.id)

    def _finish(self, job_id: int, status: int, code: int, result: dict[str, Any]) -> None:
        """Write a job's outcome."""
        with self.app.db.session() as s:
            s.exec(update(AsyncJob).where(AsyncJob.id == job_id).values(  # type: ignore[call-overload]
                state="succeeded" if status == 1 else "failed", status=status, resultcode=code,
                procstatus=100 if status == 1 else 0, result=result, completed=utcnow(),
            ))
            s.commit()
        self.app.emit("job", job_id)

    async def recover(self) -> None:
        """Fail (and reconcile) jobs left running by this server's earlier life or by dead servers."""
        dead = self.app.dead_owners()
        with self.app.db.session() as s:
            stuck = s.exec(select(AsyncJob).where(AsyncJob.state == "running")).all()
            stuck = [j for j in stuck if j.owner == self.owner or j.owner in dead]
        for job in stuck:
            assert job.id is not None
            run = JobRun(self.app, job.id, job.uuid, job.command, dict(job.params), job.user_id,
                         job.instance_uuid, UndoStack())
            fix = RECOVERS.get(job.command)
            try:
                if fix is not None:
                    await fix(run)
            except Exception:
                log.exception("reconciling job %s (%s) failed", job.uuid, job.command)
            self._finish(job.id, 2, 530, {"errorcode": 530, "errortext": RESTART_TEXT})

    @property
    def busy(self) -> int:
        """How many jobs this server is running now."""
        return len(self._running)


async def wait_for_job(app: VirgaApp, job_id: int, timeout: float = 60.0) -> AsyncJob:
    """Poll until a job finishes (for tests and embedded callers)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        with app.db.session() as s:
            job = s.get(AsyncJob, job_id)
            if job is not None and job.status != 0:
                return job
        if loop.time() > deadline:
            raise TimeoutError(f"job {job_id} did not finish in {timeout}s")
        await asyncio.sleep(0.02)
