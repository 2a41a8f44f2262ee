"""Method dispatch of the fake XAPI: generic field accessors, custom calls, Async.* tasks."""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable
from typing import Any

from tests.fakes.xapi.db import NULL, Database, XapiError, now

CLASSES = (
    "session",
    "pool",
    "host",
    "host_metrics",
    "host_cpu",
    "SR",
    "VDI",
    "VBD",
    "VM",
    "VM_metrics",
    "VIF",
    "network",
    "PIF",
    "console",
    "task",
    "event",
)
WRITABLE = {
    "name_label",
    "name_description",
    "other_config",
    "affinity",
    "is_a_template",
    "HVM_boot_policy",
    "PV_bootloader",
    "default_SR",
}
Handler = Callable[..., Any]
HANDLERS: dict[str, Handler] = {}


def call(name: str) -> Callable[[Handler], Handler]:
    """Register a custom XenAPI method implementation (first argument: the Database)."""

    def deco(fn: Handler) -> Handler:
        HANDLERS[name] = fn
        return fn

    return deco


def _generic(cls: str, op: str) -> Handler | None:
    """Implement get_record/get_all/get_<field>/set_<field>/... for any class."""
    if op == "get_all":
        return lambda db: list(db.table(cls))
    if op == "get_all_records":
        return lambda db: {r: dict(rec) for r, rec in db.table(cls).items()}
    if op == "get_record":
        return lambda db, ref: dict(db.get(cls, ref))
    if op == "get_by_uuid":
        return lambda db, uuid: db.by_uuid(cls, uuid)
    if op == "get_by_name_label":
        return lambda db, label: db.find(cls, name_label=label)
    if op == "add_to_other_config":
        return lambda db, ref, key, value: _add_key(db, cls, ref, key, value)
    if op == "remove_from_other_config":
        return lambda db, ref, key: (
            db.update(cls, ref, other_config={k: v for k, v in db.get(cls, ref)["other_config"].items() if k != key})
            and ""
        )
    if op.startswith("get_"):
        return lambda db, ref: _field(db, cls, ref, op[4:])
    if op.startswith("set_") and op[4:] in WRITABLE:
        return lambda db, ref, value: db.update(cls, ref, **{op[4:]: value}) and ""
    return None


def _add_key(db: Database, cls: str, ref: str, key: str, value: str) -> str:
    """Add a key to other_config; MAP_DUPLICATE_KEY when it is there already."""
    conf = dict(db.get(cls, ref)["other_config"])
    if key in conf:
        raise XapiError("MAP_DUPLICATE_KEY", cls, "other_config", ref, key)
    conf[key] = value
    db.update(cls, ref, other_config=conf)
    return ""


def _field(db: Database, cls: str, ref: str, name: str) -> Any:
    """One field of a record; MESSAGE_METHOD_UNKNOWN for fields the class does not have."""
    rec = db.get(cls, ref)
    if name not in rec:
        raise XapiError("MESSAGE_METHOD_UNKNOWN", f"{cls}.get_{name}")
    return rec[name]


def resolve(method: str) -> Handler:
    """The implementation of a method name such as "VM.get_record"."""
    if method in HANDLERS:
        return HANDLERS[method]
    cls, _, op = method.partition(".")
    fn = _generic(cls, op) if cls in CLASSES and cls not in ("session", "event") else None
    if fn is None:
        raise XapiError("MESSAGE_METHOD_UNKNOWN", method)
    return fn


def invoke(db: Database, method: str, params: list[Any]) -> Any:
    """Run a (synchronous) method with arity checking and failure injection."""
    fn = resolve(method)
    want = len(inspect.signature(fn).parameters) - 1
    if len(params) != want:
        raise XapiError("MESSAGE_PARAMETER_COUNT_MISMATCH", method, str(want + 1), str(len(params) + 1))
    db.take_failure(method)
    return fn(db, *params)


# --- tasks -------------------------------------------------------------------------
def new_task(db: Database, name: str) -> str:
    """Create a pending task record."""
    return db.add(
        "task",
        {
            "name_label": name,
            "name_description": "",
            "status": "pending",
            "progress": 0.0,
            "result": "",
            "error_info": [],
            "created": now(),
            "finished": "19700101T00:00:00Z",
            "type": "",
            "resident_on": db.table("pool")[next(iter(db.table("pool")))]["master"],
            "other_config": {},
            "allowed_operations": ["cancel"],
            "current_operations": {},
        },
    )


def run_async(db: Database, method: str, params: list[Any]) -> str:
    """Start a method in a thread behind a task; the task's progress moves as it runs."""
    resolve(method)
    task = new_task(db, f"Async.{method}")

    def finish(**fields: Any) -> None:
        """Record the task's outcome unless the client destroyed it meanwhile."""
        if db.exists("task", task):
            db.update("task", task, finished=now(), progress=1.0, **fields)

    def work() -> None:
        """Advance the task, run the method and record its outcome."""
        try:
            for step in (0.25, 0.5, 0.75):
                time.sleep(db.task_step)
                if db.exists("task", task):
                    db.update("task", task, progress=step)
            CURRENT.task = task
            value = invoke(db, method, params)
            finish(status="success", result="" if value in ("", None) else f"<value>{value}</value>")
        except XapiError as err:
            finish(status="failure", error_info=err.description)
        except Exception as err:  # noqa: BLE001 - a fake must report every crash as INTERNAL_ERROR
            finish(status="failure", error_info=["INTERNAL_ERROR", repr(err)])

    threading.Thread(target=work, name=f"fake-xapi-{method}", daemon=True).start()
    return task


CURRENT = threading.local()


def current_task() -> str | None:
    """The task ref the calling thread works for (None for synchronous calls)."""
    return getattr(CURRENT, "task", None)


@call("task.cancel")
def task_cancel(db: Database, task: str) -> str:
    """Ask a pending task to stop (long-running calls watch for it)."""
    rec = db.get("task", task)
    if rec["status"] != "pending":
        raise XapiError("OPERATION_NOT_ALLOWED", f"task {task} is not pending")
    db.update("task", task, status="cancelling")
    return ""


@call("task.destroy")
def task_destroy(db: Database, task: str) -> str:
    """Forget a task."""
    db.delete("task", task)
    return ""


@call("event.from")
def event_from(db: Database, classes: list[str], token: str, timeout: float) -> dict[str, Any]:
    """Events since the token (all current objects when the token is empty) and a new token."""
    if token == "":
        events = [
            {"id": "0", "timestamp": now(), "class": cls.lower(), "operation": "add", "ref": ref, "snapshot": dict(rec)}
            for cls in CLASSES
            for ref, rec in db.table(cls).items()
            if "*" in classes or cls.lower() in {c.lower() for c in classes}
        ]
        new = db.event_id
    else:
        if not token.isdigit():
            raise XapiError("EVENT_FROM_FAILED", f"bad token {token}")
        events, new = db.events_since(classes, int(token), float(timeout))
    counts = {c: str(len(db.table(c))) for c in CLASSES if c.lower() in {x.lower() for x in classes}}
    return {"events": events, "valid_ref_counts": counts, "token": str(new)}


def null() -> str:
    """The null reference."""
    return NULL
