"""The job engine: jobs persisted in the database, claimed through it, run on asyncio workers."""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam
from sqlmodel import Session, col, select
from virga.drivers.base import DriverError, HostUnreachable, NotSupported
from virga.errors import CloudError, InternalError, Unavailable
from virga.jobs.batch import Batcher, Phase
from virga.jobs.undo import UndoStack
from virga.models import AsyncJob, utcnow

if TYPE_CHECKING:
    from virga.context import Ctx
    from virga.core import VirgaApp

log = logging.getLogger(__name__)

JobBody = Callable[["JobRun"], Awaitable["Result"]]
Recover = Callable[["JobRun"], Awaitable[None]]
RESTART_TEXT = "The management server restarted while this job was running; its changes were rolled back"
BODY_ATTR, RECOVER_ATTR = "__virga_jobs__", "__virga_recovers__"


class Restart(StrEnum):
    """What a surviving server does with a job of a command that was running when its server died."""

    FAIL = "fail"  # the body writes only in transactions that commit its outcome, and changes nothing outside
    # the database before them: failing the job is all that is needed
    RECONCILE = "reconcile"  # a recover step (job_recover) puts the job's resources in order, then it is failed


@dataclass(frozen=True)
class Ref:
    """What a job body returns for an object: the API layer renders it (as the job's user) into the result."""

    model: type
    row: Any  # a model instance, or its uuid
    key: str | None = None  # the result's key when it is not the model's usual one (e.g. "iso" for a Template)


Result = dict[str, Any] | Ref
# (session, user id, refs) -> one {key: object} per ref, rendered in that session's transaction.
Renderer = Callable[[Session, int | None, list[Ref]], list[dict[str, Any]]]


@dataclass(frozen=True)
class JobSpec:
    """One async command's job: its body, its restart policy and (for RECONCILE) its recover step."""

    command: str
    body: JobBody
    restart: Restart | None
    recover: Recover | None = None


def job_body(command: str, *, restart: Restart | None = None) -> Callable[[JobBody], JobBody]:
    """Declare a function as the asynchronous body of a command (recorded on it; JobTable.load collects it)."""

    def deco(fn: JobBody) -> JobBody:
        marks = list(getattr(fn, BODY_ATTR, []))
        setattr(fn, BODY_ATTR, [*marks, (command, restart)])
        return fn

    return deco


def job_recover(command: str) -> Callable[[Recover], Recover]:
    """Declare how to reconcile a command's resources when its job died with a server (restart RECONCILE)."""

    def deco(fn: Recover) -> Recover:
        setattr(fn, RECOVER_ATTR, [*getattr(fn, RECOVER_ATTR, []), command])
        return fn

    return deco


class JobTable:
    """Every job body and recover step, collected once from the modules `virga.services.JOB_MODULES` lists."""

    def __init__(self) -> None:
        """Nothing is loaded until first use."""
        self.specs: dict[str, JobSpec] = {}
        self.modules: tuple[str, ...] = ()

    def load(self, modules: tuple[str, ...]) -> None:
        """Import each module and collect the bodies and recover steps its functions declare."""
        bodies: dict[str, tuple[JobBody, Restart | None]] = {}
        recovers: dict[str, Recover] = {}
        for name in modules:
            found = vars(importlib.import_module(name)).values()
            # a module-level name may hold one function or a (body, recover) pair from a job factory
            for obj in [f for v in found for f in (v if isinstance(v, tuple) else (v,)) if callable(f)]:
                for command, restart in getattr(obj, BODY_ATTR, []):
                    if command in bodies and bodies[command][0] is not obj:
                        raise RuntimeError(f"two job bodies declared for {command} ({name})")
                    bodies[command] = (obj, restart)
                for command in getattr(obj, RECOVER_ATTR, []):
                    recovers[command] = obj
        self.specs = {
            c: JobSpec(c, body, Restart.RECONCILE if c in recovers else restart, recovers.get(c))
            for c, (body, restart) in sorted(bodies.items())
        }
        self.modules = modules

    def extend(self, modules: tuple[str, ...]) -> None:
        """Load more modules beside the ones already loaded (tests declaring their own job bodies)."""
        self.all()
        self.load(tuple(dict.fromkeys(self.modules + modules)))

    def all(self) -> dict[str, JobSpec]:
        """Every job spec by command (loaded on first use)."""
        if not self.modules:
            from virga.services import JOB_MODULES

            self.load(JOB_MODULES)
        return self.specs

    def get(self, command: str) -> JobSpec | None:
        """The job spec of a command."""
        return self.all().get(command)


JOBS_TABLE = JobTable()


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


JOBS = AsyncJob.__table__
# Built once and run as Core statements on the session's connection: the ORM's bulk-update machinery
# costs more than the UPDATE itself, and no session reads these columns back.
OUTCOME = (
    JOBS.update()
    .where(JOBS.c.id == bindparam("j"))
    .values(
        state=bindparam("st"),
        status=bindparam("ss"),
        resultcode=bindparam("rc"),
        procstatus=bindparam("ps"),
        result=bindparam("r", type_=JOBS.c.result.type),
        completed=bindparam("c", type_=JOBS.c.completed.type),
    )
)
QUEUED = select(JOBS.c.id).where(JOBS.c.state == "queued").order_by(JOBS.c.id).limit(bindparam("n"))
CLAIM = (
    JOBS.update()
    .where(JOBS.c.id.in_(bindparam("ids", expanding=True)), JOBS.c.state == "queued")
    .values(state="running", owner=bindparam("o"), claimed=bindparam("c", type_=JOBS.c.claimed.type))
    .returning(*JOBS.c)
)
PROGRESS = JOBS.update().where(JOBS.c.id == bindparam("j")).values(procstatus=bindparam("p"))
# Adopting the running jobs of dead servers: the owner condition makes two survivors adopt each job once.
ADOPT = (
    JOBS.update()
    .where(JOBS.c.state == "running", JOBS.c.owner.in_(bindparam("dead", expanding=True)))
    .values(owner=bindparam("o"))
    .returning(JOBS.c.id)
)


def record_outcome(s: Session, job_id: int, status: int, code: int, result: dict[str, Any]) -> None:
    """Record a job's end (status 1 succeeded, 2 failed) in a session's transaction."""
    s.connection().execute(
        OUTCOME,
        {
            "j": job_id,
            "st": "succeeded" if status == 1 else "failed",
            "ss": status,
            "rc": code,
            "ps": 100 if status == 1 else 0,
            "r": result,
            "c": utcnow(),
        },
    )


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

    completed: bool = False

    async def batched(self, phase: Phase, fn: Callable[[Session], Any]) -> Any:
        """Run `fn(session)` in the next shared transaction of a phase (see virga.jobs.batch)."""
        return await self.app.jobs.batcher(phase).submit(fn)

    def progress(self, percent: int, s: Session | None = None) -> None:
        """Record progress (jobprocstatus); with a session, as part of that session's transaction."""
        params = {"j": self.job_id, "p": percent}
        if s is not None:
            s.connection().execute(PROGRESS, params)
            return
        with self.db() as own:
            own.connection().execute(PROGRESS, params)
            own.commit()

    def complete(self, s: Session, result: Result) -> None:
        """Record success in the body's last transaction, so its changes and the outcome commit together."""
        record_outcome(s, self.job_id, 1, 0, self.app.jobs.rendered(s, self.user_id, [result])[0])
        self.completed = True


class JobEngine:
    """Claims queued jobs from the database in batches and runs each on its own asyncio task.

    One dispatcher loop claims as many queued jobs as there are free worker slots with a single
    conditional UPDATE (so several management servers can share a database), starts them, and
    sleeps on an event that submitters and finishing jobs set; it rechecks the database every
    POLL seconds for jobs queued by other servers.
    """

    POLL = 0.5
    SWEEP = 30.0  # how often a running server looks for jobs that dead servers left running

    def __init__(self, app: VirgaApp, workers: int, owner: str) -> None:
        """Prepare; nothing runs until start()."""
        self.app = app
        self.workers = max(1, workers)
        self.owner = owner
        self.renderer: Renderer | None = None  # installed by VirgaApp.start (the API layer's views)
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._running: set[int] = set()
        self._batchers: dict[str, Batcher] = {}
        self._watchers: dict[int, list[asyncio.Future[None]]] = {}
        self._next_sweep = 0.0
        self._sweep: asyncio.Task[None] | None = None
        self.stopping = False

    def batcher(self, phase: Phase) -> Batcher:
        """The batcher of a phase on this server's database."""
        found = self._batchers.get(phase.name)
        if found is None:
            found = self._batchers[phase.name] = Batcher(self.app.db, phase)
        return found

    def submit(self, s: Session, job: AsyncJob) -> AsyncJob:
        """Add a queued job to the caller's transaction; call notify() after commit."""
        if job.state != "queued":  # a job enters the engine queued; after that only the engine's SQL moves it
            raise InternalError(f"job {job.command} submitted in state {job.state}")
        s.add(job)
        return job

    def notify(self) -> None:
        """Wake the dispatcher: a job was queued."""
        self._wake.set()

    async def start(self) -> None:
        """Recover jobs a previous incarnation left running, then start the dispatcher."""
        await self.recover()
        self.stopping = False
        self._next_sweep = asyncio.get_running_loop().time() + self.SWEEP
        self._loop = asyncio.create_task(self._dispatch())

    async def stop(self) -> None:
        """Stop the dispatcher and running jobs (they are recovered on next start)."""
        self.stopping = True
        self._wake.set()
        for b in self._batchers.values():
            if b.batches:
                log.info("%s: %d requests in %d batches", b.phase.name, b.requests, b.batches)
        tasks = [*self._tasks, *(t for t in (self._loop, self._sweep) if t is not None)]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._running.clear()  # jobs cancelled before their task started never reached run()'s cleanup
        self._loop = None

    def _claim(self, limit: int) -> list[Any]:
        """Atomically take up to `limit` of the oldest queued jobs, through the database (as Core rows)."""
        with self.app.db.session() as s:
            conn = s.connection()
            oldest = [r[0] for r in conn.execute(QUEUED, {"n": limit})]
            if not oldest:  # idle: a read, no write lock
                return []
            # The state condition makes the claim safe against other servers claiming the same rows.
            jobs = list(conn.execute(CLAIM, {"ids": oldest, "o": self.owner, "c": utcnow()}))
            s.commit()
        return sorted(jobs, key=lambda j: j.id or 0)

    async def _dispatch(self) -> None:
        """Claim jobs while worker slots are free; sleep until woken (or POLL seconds) otherwise."""
        while not self.stopping:
            self._wake.clear()
            free = self.workers - len(self._tasks)
            try:
                jobs = self._claim(free) if free > 0 else []
            except Exception:  # a locked or unreachable database: try again shortly
                log.exception("claiming queued jobs failed")
                jobs = []
            for job in jobs:
                self._running.add(job.id)  # from the claim on: a watcher added now sees it end
                task = asyncio.create_task(self.run(job))
                self._tasks.add(task)
                task.add_done_callback(self._done)
            self._maybe_sweep()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.POLL)
            except TimeoutError:
                pass

    def _maybe_sweep(self) -> None:
        """Every SWEEP seconds, adopt and fail the jobs of servers whose heartbeat stopped (in the background)."""
        now = asyncio.get_running_loop().time()
        if now < self._next_sweep or (self._sweep is not None and not self._sweep.done()):
            return
        self._next_sweep = now + self.SWEEP
        self._sweep = asyncio.create_task(self.adopt_orphans())

    def _done(self, task: asyncio.Task[None]) -> None:
        """A job task ended: free its slot and let the dispatcher claim more."""
        self._tasks.discard(task)
        self._wake.set()

    async def run(self, job: Any) -> None:
        """Run one claimed job (a row with the AsyncJob columns) and record its result or error."""
        assert job.id is not None
        self._running.add(job.id)
        run = JobRun(
            self.app, job.id, job.uuid, job.command, dict(job.params), job.user_id, job.instance_uuid, UndoStack()
        )
        try:
            spec = JOBS_TABLE.get(job.command)
            if spec is None:
                raise InternalError(f"no job body is registered for {job.command}")
            async with run.undo:
                result = await spec.body(run)
            if run.completed:
                self._ended(job.id)
            else:
                self._finish(job.id, 1, 0, result, job.user_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            err = to_cloud_error(exc)
            if not isinstance(exc, CloudError | DriverError):
                log.exception("job %s (%s) failed", job.uuid, job.command)
            self._finish(job.id, 2, err.code, {"errorcode": err.code, "errortext": err.text})
        finally:
            self._running.discard(job.id)

    def rendered(self, s: Session, user_id: int | None, results: list[Result]) -> list[dict[str, Any]]:
        """Job results as stored: plain dicts as they are, refs rendered by the API layer's renderer."""
        refs = [r for r in results if isinstance(r, Ref)]
        if not refs:
            return [r for r in results if isinstance(r, dict)]
        if self.renderer is None:
            raise InternalError("no result renderer is installed (VirgaApp.start installs the API's)")
        views = iter(self.renderer(s, user_id, refs))
        return [next(views) if isinstance(r, Ref) else r for r in results]

    def _finish(self, job_id: int, status: int, code: int, result: Result, user_id: int | None = None) -> None:
        """Write a job's outcome."""
        with self.app.db.session() as s:
            record_outcome(s, job_id, status, code, self.rendered(s, user_id, [result])[0])
            s.commit()
        self._ended(job_id)

    def _ended(self, job_id: int) -> None:
        """A job's outcome is committed: tell in-process listeners and wake callers waiting for it."""
        self.app.emit("job", job_id)
        for fut in self._watchers.pop(job_id, []):
            if not fut.done():
                fut.set_result(None)

    def watch(self, job: Any) -> asyncio.Future[None] | None:
        """A future set when a job this server runs (or will likely claim) ends; None when its end would go
        unseen here (a job another server runs). Callers re-read the job after watching, then wait."""
        if not (job.id in self._running or (job.state == "queued" and self._loop is not None and not self.stopping)):
            return None
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._watchers.setdefault(job.id, []).append(fut)
        return fut

    def running_here(self, job_id: int) -> bool:
        """Whether this server is running the job now (a watcher added now will see it end)."""
        return job_id in self._running

    def unwatch(self, job_id: int, fut: asyncio.Future[None]) -> None:
        """Forget a watcher (its caller stopped waiting)."""
        waiting = self._watchers.get(job_id, [])
        if fut in waiting:
            waiting.remove(fut)
        if not waiting:
            self._watchers.pop(job_id, None)

    async def recover(self) -> None:
        """Fail (and reconcile) jobs left running by this server's earlier life or by dead servers."""
        with self.app.db.session() as s:
            stmt = select(AsyncJob.id).where(AsyncJob.state == "running", AsyncJob.owner == self.owner)
            mine = [i for i in s.exec(stmt) if i is not None]
        await self._fail(mine + self._adopt())

    async def adopt_orphans(self) -> None:
        """Take over and fail (reconciling their resources) the running jobs of servers whose heartbeat stopped."""
        try:
            await self._fail(self._adopt())
        except Exception:  # an unreachable database: the next sweep tries again
            log.exception("adopting the jobs of dead management servers failed")

    def _adopt(self) -> list[int]:
        """Make this server the owner of the running jobs of dead servers (each job adopted by one survivor)."""
        dead = sorted(self.app.dead_owners() - {self.owner})
        if not dead:
            return []
        with self.app.db.session() as s:
            ids = [r[0] for r in s.connection().execute(ADOPT, {"dead": dead, "o": self.owner})]
            s.commit()
        if ids:
            log.warning("adopted %d jobs left running by dead management servers", len(ids))
        return ids

    async def _fail(self, job_ids: list[int]) -> None:
        """Reconcile each job's resources (its command's recover step) and fail it with RESTART_TEXT."""
        if not job_ids:
            return
        with self.app.db.session() as s:
            stuck = s.exec(select(AsyncJob).where(col(AsyncJob.id).in_(job_ids))).all()
        for job in sorted(stuck, key=lambda j: j.id or 0):
            assert job.id is not None
            run = JobRun(
                self.app, job.id, job.uuid, job.command, dict(job.params), job.user_id, job.instance_uuid, UndoStack()
            )
            spec = JOBS_TABLE.get(job.command)
            try:
                if spec is not None and spec.recover is not None:
                    await spec.recover(run)
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
