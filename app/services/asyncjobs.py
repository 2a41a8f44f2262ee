"""Reading async jobs for queryAsyncJobResult, the most frequent call: a Core row by uuid (no ORM), and the
end of the read-only transaction so a held poll keeps no database connection while it waits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam
from sqlmodel import Session
from virga.models import AsyncJob

_JOBS = AsyncJob.__table__
# Clients poll this many times per job: a Core row (same attribute names as the model) skips the ORM.
JOB_BY_UUID = _JOBS.select().where(_JOBS.c.uuid == bindparam("v"))


def job_row(s: Session, uuid: str) -> Any:
    """The job with a uuid as a Core row (attributes named as the model's), or None."""
    return s.connection().execute(JOB_BY_UUID, {"v": uuid}).first()


def end_read(s: Session) -> None:
    """End a read-only transaction: its connection goes back to the pool (the session opens another if used)."""
    s.commit()
