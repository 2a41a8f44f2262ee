"""The simulator's shared world: hosts, guests, disks and injected behaviour."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from dataclasses import dataclass, field
from typing import Any

from virga.drivers.base import DriverError


@dataclass
class Rule:
    """An injected behaviour for one operation: a delay, a failure, or both."""

    operation: str
    host: str | None = None
    latency_ms: int = 0
    fail: str | None = None
    count: int = -1

    def matches(self, operation: str, host: str) -> bool:
        """Whether the rule applies to this operation on this host."""
        if self.count == 0:
            return False
        return self.operation in (operation, "*") and self.host in (None, host)


@dataclass
class World:
    """Every simulated host's guests and disks; optionally persisted to SQLite."""

    guests: dict[str, dict[str, Any]] = field(default_factory=dict)
    disks: dict[str, dict[str, Any]] = field(default_factory=dict)
    down_hosts: set[str] = field(default_factory=set)
    pools: dict[str, set[str]] = field(default_factory=dict)  # host -> uuids of the pools it has set up
    rules: list[Rule] = field(default_factory=list)
    path: str | None = None
    _db: sqlite3.Connection | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def open(self, path: str | None) -> None:
        """Persist to (and load from) an SQLite file; None keeps everything in memory."""
        self.path = path
        self.guests.clear()
        self.disks.clear()
        self.pools.clear()
        if self._db is not None:
            self._db.close()
            self._db = None
        if path is None:
            return
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS obj (kind TEXT, key TEXT, body TEXT, PRIMARY KEY (kind, key))")
        for kind, key, body in self._db.execute("SELECT kind, key, body FROM obj"):
            (self.guests if kind == "guest" else self.disks)[key] = json.loads(body)

    def save(self, kind: str, key: str, body: dict[str, Any] | None) -> None:
        """Write one guest or disk through to the file (delete when body is None)."""
        table = self.guests if kind == "guest" else self.disks
        if body is None:
            table.pop(key, None)
        else:
            table[key] = body
        if self._db is None:
            return
        with self._lock:
            if body is None:
                self._db.execute("DELETE FROM obj WHERE kind=? AND key=?", (kind, key))
            else:
                self._db.execute("INSERT OR REPLACE INTO obj VALUES (?,?,?)", (kind, key, json.dumps(body)))

    def configure(self, rule: Rule) -> None:
        """Add an injected behaviour, replacing an earlier one for the same operation and host."""
        self.rules = [r for r in self.rules if (r.operation, r.host) != (rule.operation, rule.host)]
        if rule.latency_ms or rule.fail:
            self.rules.append(rule)

    def reset(self) -> None:
        """Forget every injected behaviour and every down host."""
        self.rules.clear()
        self.down_hosts.clear()

    async def behave(self, operation: str, host: str) -> None:
        """Apply the injected latency and failure for an operation on a host."""
        for rule in self.rules:
            if not rule.matches(operation, host):
                continue
            if rule.count > 0:
                rule.count -= 1
            if rule.latency_ms:
                await asyncio.sleep(rule.latency_ms / 1000)
            if rule.fail:
                raise DriverError(rule.fail)


WORLD = World()
