"""Job helpers for async commands whose work is done by their synchronous part (the job only answers)."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from virga.errors import InvalidParameter
from virga.jobs.engine import JobBody, JobRun, Ref, Restart, job_body
from virga.jobs.pending import Pending


def pending(instancetype: str, row: Any, **params: Any) -> Pending:
    """An async command's hand-over for a row already written by the synchronous part."""
    return Pending(instancetype, row.uuid, {"id": row.uuid, **params})


def echo_job(command: str, model: Any, key: str | None = None) -> JobBody:
    """A job body that answers with the row the command changed (rendered by the API's view of the model).

    Restart FAIL: the body changes nothing, so a job cut short by its server's death is only failed."""

    @job_body(command, restart=Restart.FAIL)
    async def body(run: JobRun) -> Ref:
        """Refer to the row the command changed."""
        with run.db() as s:
            row = s.exec(select(model).where(model.uuid == run.instance_uuid)).first()
            if row is None:
                raise InvalidParameter(f"{model.__name__} {run.instance_uuid} vanished")
        return Ref(model, run.instance_uuid, key=key)

    return body


def success_job(command: str) -> JobBody:
    """A job body for an async delete whose work was done synchronously (restart FAIL: it changes nothing)."""

    @job_body(command, restart=Restart.FAIL)
    async def body(run: JobRun) -> dict[str, Any]:
        """Report success."""
        return {"success": True}

    return body
