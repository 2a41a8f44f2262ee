"""Capacity bookkeeping: over-provisioning factors, host reservations, pool allocations and placement.

The only module that writes `Host.cpuallocated`, `Host.memoryallocated` and `StoragePool.allocatedbytes`.
Every change is one atomic SQL increment (`UPDATE ... SET x = x + :n`), never a read-modify-write through
the ORM, so two management servers sharing a database cannot lose each other's updates. Releases never go
below zero. `place_vm` is the one placement transaction step (deploy, start, migrate, host maintenance and
HA restart, which runs as a start): serialise placement, pick a host that fits, reserve it.
The listCapacity figures are computed by virga.api.commands.capacity from these columns.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, case
from sqlalchemy.orm import object_session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session
from virga.db import serialise_placement
from virga.errors import InsufficientCapacity
from virga.models import Cluster, Host, StoragePool
from virga.services.bootstrap import setting
from virga.services.placement import Need, choose_host, host_fits

MB = 2**20
HOSTS, POOLS = Host.__table__, StoragePool.__table__


def _floor0(column: Any, delta: Any) -> Any:
    """SQL: column + delta, never below zero (portable: no GREATEST on SQLite, no two-argument MAX on PG)."""
    return case((column + delta < 0, 0), else_=column + delta)


# Built once: run as Core statements on the session's connection (deploy's hot path runs them per VM).
HOST_DELTA = (
    HOSTS.update()
    .where(HOSTS.c.id == bindparam("h"))
    .values(
        cpuallocated=_floor0(HOSTS.c.cpuallocated, bindparam("c")),
        memoryallocated=_floor0(HOSTS.c.memoryallocated, bindparam("m")),
    )
)
POOL_DELTA = (
    POOLS.update()
    .where(POOLS.c.id == bindparam("p"))
    .values(allocatedbytes=_floor0(POOLS.c.allocatedbytes, bindparam("b")))
)


def overcommit(s: Session, cluster: Cluster | None) -> tuple[float, float]:
    """CPU and memory over-provisioning factors of a cluster (cluster value, else global)."""
    cpu = float(setting(s, "cpu.overprovisioning.factor", "1.0"))
    mem = float(setting(s, "mem.overprovisioning.factor", "1.0"))
    if cluster is not None:
        cpu = cluster.cpuovercommitratio or cpu
        mem = cluster.memoryovercommitratio or mem
    return cpu, mem


def vm_cpu(vm: Any) -> int:
    """The CPU a VM holds on its host, in MHz (cores x speed)."""
    return int(vm.cpunumber) * int(vm.cpuspeed)


def vm_memory(vm: Any) -> int:
    """The memory a VM holds on its host, in bytes."""
    return int(vm.memory) * MB


def _mirror(s: Session, model: Any, ident: int, deltas: dict[str, int]) -> None:
    """Apply an SQL increment to the session's copy of the row too, when it holds one (no reload, no flush)."""
    obj = s.identity_map.get(identity_key(model, ident))
    if obj is None or object_session(obj) is not s:
        return
    loaded = obj.__dict__
    for attr, delta in deltas.items():
        if attr in loaded:
            set_committed_value(obj, attr, max(0, loaded[attr] + delta))


def _host_delta(s: Session, host_id: int | None, cpu: int, memory: int) -> None:
    """Add CPU (MHz) and memory (bytes) to a host's allocation in one statement (negative releases)."""
    if not host_id:
        return
    s.connection().execute(HOST_DELTA, {"h": host_id, "c": cpu, "m": memory})
    _mirror(s, Host, host_id, {"cpuallocated": cpu, "memoryallocated": memory})


def reserve_host(s: Session, host_id: int | None, vm: Any) -> None:
    """Reserve a VM's CPU and memory on a host (atomic increment, in the caller's transaction)."""
    _host_delta(s, host_id, vm_cpu(vm), vm_memory(vm))


def release_host(s: Session, host_id: int | None, vm: Any) -> None:
    """Give a host back a VM's CPU and memory (atomic decrement, never below zero)."""
    _host_delta(s, host_id, -vm_cpu(vm), -vm_memory(vm))


def _pool_delta(s: Session, pool_id: int | None, nbytes: int) -> None:
    """Add bytes to a pool's allocation in one statement (negative releases, never below zero)."""
    if not pool_id or not nbytes:
        return
    s.connection().execute(POOL_DELTA, {"p": pool_id, "b": nbytes})
    _mirror(s, StoragePool, pool_id, {"allocatedbytes": nbytes})


def allocate_pool(s: Session, pool_id: int | None, nbytes: int) -> None:
    """Allocate bytes of a pool to a volume (atomic increment, in the caller's transaction)."""
    _pool_delta(s, pool_id, nbytes)


def release_pool(s: Session, pool_id: int | None, nbytes: int) -> None:
    """Give a pool back a volume's bytes (atomic decrement, never below zero)."""
    _pool_delta(s, pool_id, -nbytes)


def place_vm(s: Session, vm: Any, need: Need, *, prefer: int | None = None, only: Host | None = None) -> Host:
    """The placement step of deploy, start, migrate and HA restart: choose a host and reserve it for the VM.

    Runs in the caller's transaction, which it serialises against every other server's placement first
    (virga.db.serialise_placement: an advisory lock on PostgreSQL), so the capacity read and the
    reservation cannot interleave with another placement; the caller commits (or rolls back) both.
    `only`: that host or nothing (InsufficientCapacity); else `prefer` when it fits, else the least
    loaded host that fits (choose_host's 533 when none does).
    """
    serialise_placement(s)
    if only is not None:
        if not host_fits(s, only, need):
            raise InsufficientCapacity(f"Host {only.name} does not have room for the VM")
        host = only
    else:
        host = choose_host(s, need, prefer=prefer)
    reserve_host(s, host.id, vm)
    return host
