"""./dev.sh lint is clean: ruff check, ruff format --check and mypy on the `virga` package (so CI enforces it)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_dev_sh_lint_is_clean():
    """The lint step exits 0 (its mypy cache in .mypy_cache keeps repeated runs to seconds)."""
    run = subprocess.run(
        ["bash", str(ROOT / "dev.sh"), "lint", "--no-setup"], cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
