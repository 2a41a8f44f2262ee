"""Job engine: batch claiming through the database, wake-ups, and atomic completion."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlmodel import select
from virga.core import VirgaApp
from virga.jobs.engine import JOBS_TABLE, JobEngine, JobRun, Restart, job_body, wait_for_job
from virga.models import AsyncJob

RAN: list[str] = []


@job_body("testEngineNoop", restart=Restart.FAIL)
async def _noop(run: JobRun) -> dict[str, Any]:
    """A job body that records which job ran and answers at once."""
    RAN.append(run.uuid)
    return {"success": True}


@job_body("testEngineComplete", restart=Restart.FAIL)
async def _completes(run: JobRun) -> dict[str, Any]:
    """A job body that completes itself inside its own last transaction."""
    out = {"done": run.uuid}
    with run.db() as s:
        run.complete(s, out)
        s.commit()
    return out


JOBS_TABLE.extend((__name__,))  # this module's job bodies beside the services'


def _queue(app: VirgaApp, command: str, n: int) -> list[int]:
    """Queue n jobs of a command directly in the database."""
    ids = []
    with app.db.session() as s:
        jobs = [
            AsyncJob(
                cmd=command,
                command=command,
                params={},
                account_id=1,
                domain_id=1,
                instancetype="None",
                instance_uuid="",
                state="queued",
            )
            for _ in range(n)
        ]
        s.add_all(jobs)
        s.commit()
        ids = [j.id or 0 for j in jobs]
    return ids


async def test_two_servers_never_claim_the_same_job(app: VirgaApp) -> None:
    """Claims by two engines on one database are disjoint, oldest first, and cover every queued job."""
    await app.jobs.stop()  # only the two engines below claim
    ids = _queue(app, "testEngineNoop", 25)
    one, two = JobEngine(app, 8, "server-one"), JobEngine(app, 8, "server-two")
    got: dict[str, list[int]] = {"server-one": [], "server-two": []}
    while True:
        a, b = one._claim(4), two._claim(3)
        if not a and not b:
            break
        got["server-one"] += [j.id or 0 for j in a]
        got["server-two"] += [j.id or 0 for j in b]
    assert got["server-one"][:4] == ids[:4], "a batch takes the oldest queued jobs"
    assert not set(got["server-one"]) & set(got["server-two"])
    assert sorted(got["server-one"] + got["server-two"]) == ids
    with app.db.session() as s:
        rows = s.exec(select(AsyncJob).where(AsyncJob.id.in_(ids))).all()  # type: ignore[union-attr]
    owner = {r.id: r.owner for r in rows}
    assert all(owner[i] == "server-one" for i in got["server-one"])
    assert all(r.state == "running" for r in rows)


async def test_queued_jobs_run_and_complete_atomically(app: VirgaApp) -> None:
    """Jobs queued while the engine sleeps are woken and run; a body may record its own success."""
    RAN.clear()
    ids = _queue(app, "testEngineNoop", 20) + _queue(app, "testEngineComplete", 3)
    app.jobs.notify()
    done = await asyncio.gather(*(wait_for_job(app, i, timeout=30) for i in ids))
    assert [j.status for j in done] == [1] * len(ids)
    assert len(RAN) == 20
    assert done[-1].result == {"done": done[-1].uuid}
    assert done[-1].state == "succeeded" and done[-1].procstatus == 100
