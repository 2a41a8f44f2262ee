"""Helpers every test package shares."""

from __future__ import annotations

import os

import pytest


def need(condition: object, reason: str) -> None:
    """Skip (locally, naming what is missing) or fail (in CI, CI=true) when a prerequisite is missing."""
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"prerequisite missing in CI: {reason}")
    pytest.skip(reason)
