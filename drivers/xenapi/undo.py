"""A small undo stack: register a reversal after each side effect, run them backwards on failure."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Undo:
    """Reversals of the side effects done so far; `run()` applies them newest first."""

    def __init__(self) -> None:
        """Start with nothing to undo."""
        self.steps: list[tuple[str, Callable[[], Awaitable[object]]]] = []

    def add(self, what: str, step: Callable[[], Awaitable[object]]) -> None:
        """Register how to reverse the side effect just done."""
        self.steps.append((what, step))

    async def run(self) -> None:
        """Apply every reversal, newest first; a failing reversal is logged and the rest still run."""
        while self.steps:
            what, step = self.steps.pop()
            try:
                await step()
            except Exception:  # noqa: BLE001 - undo must go on whatever one step does
                log.warning("undo step %r failed", what, exc_info=True)
