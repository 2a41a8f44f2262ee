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
    """Every simulated host's guests and disks; optionally persisted to SQLite.

    Guests are per host (`placed`: host -> uuid -> guest), as on real hypervisors: a host that went down
    keeps its stale definition while HA defines the VM again on another host. `guests` indexes each uuid's
    latest definition (what tests and tools look at).
    """

    placed: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
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
        self.placed.clear()
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
            if kind == "guest":  # key host/uuid (a bare uuid from an older file: its host is in the body)
                guest = json.loads(body)
                self.placed.setdefault(guest["host"], {})[guest["uuid"]] = self.guests[guest["uuid"]] = guest
            else:
                self.disks[key] = json.loads(body)

    def guest(self, host: str, uuid: str) -> dict[str, Any] | None:
        """The guest a host has defined with that uuid."""
        return self.placed.get(host, {}).get(uuid)

    def host_guests(self, host: str) -> list[dict[str, Any]]:
        """Every guest a host has defined."""
        return list(self.placed.get(host, {}).values())

    def save_guest(self, guest: dict[str, Any]) -> None:
        """Write a guest (defined on guest["host"]) through to the file."""
        self.placed.setdefault(guest["host"], {})[guest["uuid"]] = self.guests[guest["uuid"]] = guest
        self._write("guest", f"{guest['host']}/{guest['uuid']}", guest)

    def drop_guest(self, host: str, uuid: str) -> None:
        """Undefine a guest on one host (the index then names its definition on another host, if any)."""
        gone = self.placed.get(host, {}).pop(uuid, None)
        if self.guests.get(uuid) is gone:
            others = [g[uuid] for g in self.placed.values() if uuid in g]
            if others:
                self.guests[uuid] = others[-1]
            else:
                self.guests.pop(uuid, None)
        self._write("guest", f"{host}/{uuid}", None)
        self._write("guest", uuid, None)  # the older, global key

    def save(self, kind: str, key: str, body: dict[str, Any] | None) -> None:
        """Write one disk through to the file (delete when body is None); guests go through save_guest."""
        if kind == "guest":
            if body is not None:
                self.save_guest(body)
            elif key in self.guests:
                self.drop_guest(self.guests[key]["host"], key)
            return
        if body is None:
            self.disks.pop(key, None)
        else:
            self.disks[key] = body
        self._write(kind, key, body)

    def _write(self, kind: str, key: str, body: dict[str, Any] | None) -> None:
        """Persist one object (delete when body is None) when the world has a file."""
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
