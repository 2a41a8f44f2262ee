"""The fake pool database: OpaqueRef-keyed records per class, with an event log for event.from."""

from __future__ import annotations

import copy
import threading
import time
import uuid as uuidlib
from typing import Any

NULL = "OpaqueRef:NULL"


class XapiError(Exception):
    """A XenAPI failure; `description` is the ErrorDescription list sent to the client."""

    def __init__(self, *description: str) -> None:
        """Keep the error code and its parameters."""
        super().__init__(description[0])
        self.description = [str(d) for d in description]


def new_ref() -> str:
    """A fresh OpaqueRef handle."""
    return f"OpaqueRef:{uuidlib.uuid4()}"


def now() -> str:
    """The current time in XenAPI's DateTime text form."""
    return time.strftime("%Y%m%dT%H:%M:%SZ", time.gmtime())


class Database:
    """Every object of the pool, keyed by class then ref; thread-safe, with an event log."""

    def __init__(self) -> None:
        """Start empty; seed.populate() fills in a pool."""
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.objects: dict[str, dict[str, dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self.event_id = 0
        self.sessions: dict[str, str] = {}
        self.users: dict[str, str] = {}
        self.failures: dict[str, list[str]] = {}
        self.task_step = 0.02
        self.rrd: dict[str, dict[str, int]] = {}

    # --- records ------------------------------------------------------------------
    def table(self, cls: str) -> dict[str, dict[str, Any]]:
        """The records of one class (created empty on first use)."""
        return self.objects.setdefault(cls, {})

    def add(self, cls: str, record: dict[str, Any], ref: str | None = None) -> str:
        """Insert a record (given a uuid when it has none) and log an `add` event."""
        with self.lock:
            ref = ref or new_ref()
            record.setdefault("uuid", str(uuidlib.uuid4()))
            self.table(cls)[ref] = record
            self._log(cls, "add", ref, record)
            return ref

    def get(self, cls: str, ref: str) -> dict[str, Any]:
        """A record by ref, or HANDLE_INVALID."""
        with self.lock:
            rec = self.table(cls).get(ref)
            if rec is None:
                raise XapiError("HANDLE_INVALID", cls, ref)
            return rec

    def exists(self, cls: str, ref: str) -> bool:
        """Whether a ref names a live object of the class."""
        with self.lock:
            return ref in self.table(cls)

    def update(self, cls: str, ref: str, **fields: Any) -> dict[str, Any]:
        """Change fields of a record and log a `mod` event."""
        with self.lock:
            rec = self.get(cls, ref)
            rec.update(fields)
            self._log(cls, "mod", ref, rec)
            return rec

    def delete(self, cls: str, ref: str) -> None:
        """Remove a record and log a `del` event."""
        with self.lock:
            rec = self.get(cls, ref)
            del self.table(cls)[ref]
            self._log(cls, "del", ref, rec)

    def by_uuid(self, cls: str, uuid: str) -> str:
        """The ref of the object with that uuid, or UUID_INVALID."""
        with self.lock:
            for ref, rec in self.table(cls).items():
                if rec.get("uuid") == uuid:
                    return ref
        raise XapiError("UUID_INVALID", cls, uuid)

    def find(self, cls: str, **match: Any) -> list[str]:
        """Refs of every object whose fields equal the given values."""
        with self.lock:
            return [r for r, rec in self.table(cls).items() if all(rec.get(k) == v for k, v in match.items())]

    def link(self, cls: str, ref: str, field: str, other: str, add: bool = True) -> None:
        """Add or remove a ref in a set-valued field (the other end of a relation)."""
        with self.lock:
            if not self.exists(cls, ref):
                return
            refs = [r for r in self.get(cls, ref)[field] if r != other]
            self.update(cls, ref, **{field: refs + [other] if add else refs})

    # --- events -------------------------------------------------------------------
    def _log(self, cls: str, op: str, ref: str, rec: dict[str, Any]) -> None:
        """Append an event for event.from and wake its waiters."""
        self.event_id += 1
        self.events.append(
            {
                "id": str(self.event_id),
                "timestamp": now(),
                "class": cls.lower(),
                "operation": op,
                "ref": ref,
                "snapshot": copy.deepcopy(rec),
            }
        )
        del self.events[:-5000]
        self.changed.notify_all()

    def events_since(self, classes: list[str], token: int, timeout: float) -> tuple[list[dict[str, Any]], int]:
        """Events after a token for the classes (waiting up to timeout) and the new token."""
        wanted = {c.lower() for c in classes}
        deadline = time.monotonic() + timeout

        def pick() -> list[dict[str, Any]]:
            """The matching events newer than the token."""
            return [e for e in self.events if int(e["id"]) > token and ("*" in wanted or e["class"] in wanted)]

        with self.lock:
            while not pick() and time.monotonic() < deadline:
                self.changed.wait(max(0.0, deadline - time.monotonic()))
            found = pick()
            return [dict(e, snapshot=copy.deepcopy(e["snapshot"])) for e in found], self.event_id

    # --- failure injection --------------------------------------------------------
    def inject(self, method: str, *description: str) -> None:
        """Make the next call of a method (e.g. "VIF.create") fail with that error."""
        self.failures[method] = list(description)

    def take_failure(self, method: str) -> None:
        """Raise an injected failure for the method, once."""
        with self.lock:
            desc = self.failures.pop(method, None)
        if desc:
            raise XapiError(*desc)
