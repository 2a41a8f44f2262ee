"""Undo stacks: each side effect of a workflow registers its reversal; failure runs them backwards."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

log = logging.getLogger(__name__)

UndoFn = Callable[[], Awaitable[Any] | Any]


class UndoStack:
    """Collect reversal steps; on an exception inside `async with`, run them newest first."""

    def __init__(self) -> None:
        """Start empty."""
        self._steps: list[tuple[str, UndoFn]] = []
        self.failures: list[str] = []

    def push(self, label: str, fn: UndoFn) -> None:
        """Register the reversal of a step that just succeeded."""
        self._steps.append((label, fn))

    def commit(self) -> None:
        """Forget every step: the workflow succeeded."""
        self._steps.clear()

    async def unwind(self) -> None:
        """Run every registered reversal, newest first, carrying on past failures."""
        while self._steps:
            label, fn = self._steps.pop()
            try:
                result = fn()
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:  # an undo step must not stop the others
                log.warning("undo step %s failed: %s", label, exc)
                self.failures.append(f"{label}: {exc}")

    async def __aenter__(self) -> UndoStack:
        """Enter the workflow."""
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Unwind on failure; commit on success."""
        if exc_type is not None:
            await self.unwind()
        else:
            self.commit()
