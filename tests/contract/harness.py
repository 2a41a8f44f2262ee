"""What each driver's contract harness provides: a connected driver and the specs to use with it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from virga.drivers.base import Driver, PoolSpec, TemplateSpec


@dataclass
class Harness:
    """A driver under test, with a pool, a template and a bridge it can use."""

    driver: Driver
    pool: PoolSpec
    template: TemplateSpec | None
    bridge: str
    second: Driver | None = None
    extra: dict[str, object] = field(default_factory=dict)
    # whether the host has `pool` set up (None: the pool is the hypervisor's own, the driver sets nothing up)
    pool_set_up: Callable[[], Awaitable[bool]] | None = None


HarnessFactory = Callable[[], AbstractAsyncContextManager[Harness]]
HARNESSES: dict[str, HarnessFactory] = {}


def register(name: str) -> Callable[[Callable[[], AsyncIterator[Harness]]], Callable[[], AsyncIterator[Harness]]]:
    """Register an asynccontextmanager-style generator as a driver harness."""
    from contextlib import asynccontextmanager

    def deco(fn: Callable[[], AsyncIterator[Harness]]) -> Callable[[], AsyncIterator[Harness]]:
        HARNESSES[name] = asynccontextmanager(fn)
        return fn

    return deco
