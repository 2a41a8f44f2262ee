"""The Marvin ratchet: CloudStack's own smoke tests (../shared/cloudstack-tests/run) against a fresh virga.

passing.txt lists the methods that pass (one `file::Class.method` a line): one of them failing fails this test.
failing.txt gives each other method of FILES a reason (`file::Class.method reason`). Methods that newly pass are
printed so that passing.txt can grow. The runner builds its Marvin venv on first use (pip from PyPI); under
CI=true a missing prerequisite fails instead of skipping.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import need

HERE = Path(__file__).resolve().parent
RUNNER = HERE.parents[2] / "shared" / "cloudstack-tests" / "run"
VIRGA = Path(sys.executable).parent / "virga"
# The smoke files run (those that pass most; deployDataCenter alone takes about two minutes).
FILES = [
    "smoke/test_accounts.py",
    "smoke/test_disk_offerings.py",
    "smoke/test_list_accounts.py",
    "smoke/test_list_disk_offerings.py",
    "smoke/test_list_service_offerings.py",
    "smoke/test_list_domains.py",
]
DEPLOY = "deployDataCenter::deployDataCenter"

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def _listed(name: str) -> dict[str, str]:
    """A list file's methods and the rest of their line (the reason, in failing.txt); # lines are comments."""
    out: dict[str, str] = {}
    for line in (HERE / name).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            method, _, rest = line.strip().partition(" ")
            out[method] = rest.strip()
    return out


def _run(tmp_path: Path) -> dict[str, dict[str, str]]:
    """Run the runner on FILES in a fresh work dir and read its per-method results."""
    env = {**os.environ, "VIRGA": str(VIRGA), "TMPDIR": str(tmp_path), "MARVIN_FILE_TIMEOUT": "150"}
    done = subprocess.run(
        [str(RUNNER), "--report", *FILES], env=env, capture_output=True, text=True, timeout=900, check=False
    )
    print(done.stdout[-4000:])
    assert done.returncode == 0, done.stderr[-4000:]
    (results,) = tmp_path.glob("virga-marvin.*/results.jsonl")
    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    return {f"{r['file']}::{r['test']}": r for r in rows}


def test_lists_cover_the_files_without_overlap() -> None:
    """Every method is in one list only, and the lists name only files that are run."""
    passing, failing = _listed("passing.txt"), _listed("failing.txt")
    assert not set(passing) & set(failing)
    files = {f.removesuffix(".py") for f in FILES} | {"deployDataCenter"}
    assert {m.split("::")[0] for m in (*passing, *failing)} <= files
    assert all(failing.values()), "every failing method needs a reason"
    assert DEPLOY in passing


def test_marvin_smoke_ratchet(tmp_path: Path) -> None:
    """No method of passing.txt stops passing; every other method run has a reason in failing.txt."""
    need(RUNNER.is_file(), f"CloudStack's Marvin kit is missing: {RUNNER}")
    need(VIRGA.is_file(), f"the virga executable is missing: {VIRGA}")
    results = _run(tmp_path)
    passing, failing = _listed("passing.txt"), _listed("failing.txt")
    passed = {m for m, r in results.items() if r["status"] == "passed"}
    newly = sorted(passed - set(passing))
    if newly:
        print("newly passing (add to tests/cloudstack/passing.txt):\n" + "\n".join(newly))
    lost = {m: results[m]["why"] if m in results else "not run" for m in passing if m not in passed}
    assert not lost, f"methods that passed no longer do: {json.dumps(lost, indent=1)}"
    unexplained = sorted(m for m, r in results.items() if r["status"] not in ("passed", "skipped") and m not in failing)
    assert not unexplained, "methods failing without a reason in failing.txt:\n" + "\n".join(
        f"{m} {results[m]['why'][:200]}" for m in unexplained
    )
    n_pass = len(passed)
    print(f"{n_pass} passed, {sum(r['status'] not in ('passed', 'skipped') for r in results.values())} failed")
