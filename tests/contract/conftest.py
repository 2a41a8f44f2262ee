"""Load every driver harness; each test in the contract suite runs once per driver."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import AsyncIterator

import pytest

import tests.contract as pkg
from tests.contract.harness import HARNESSES, Harness

for mod in pkgutil.iter_modules(pkg.__path__):
    if mod.name.startswith("harness_"):
        importlib.import_module(f"tests.contract.{mod.name}")


@pytest.fixture(params=sorted(HARNESSES))
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    """A connected driver of each registered kind."""
    async with HARNESSES[request.param]() as h:
        yield h
