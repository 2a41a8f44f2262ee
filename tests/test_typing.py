"""mypy sees `virga` imports as the real code (scripts/typecheck.py's link tree), never as Any."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _mypy_on(code: str) -> tuple[list[str], str]:
    """Run the lint's mypy configuration on a snippet; return its revealed types and the whole output."""
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "typecheck.py"), "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = run.stdout + run.stderr
    return re.findall(r'^<string>:\d+: note: Revealed type is "(.*)"$', out, re.M), out


def test_virga_imports_reveal_their_real_types():
    """A model class, a driver contract type and appliance and core functions keep their types across modules."""
    revealed, out = _mypy_on(
        "from virga.models import Host\n"
        "from virga.drivers.base import PowerState\n"
        "from virga.appliance.storage.checksum import parse_checksum\n"
        "from virga.db import make_engine\n"
        "reveal_type(Host)\n"
        "reveal_type(PowerState.RUNNING)\n"
        "reveal_type(parse_checksum)\n"
        "reveal_type(make_engine)\n"
    )
    assert len(revealed) == 4, out
    host, state, checksum, engine = revealed
    assert re.search(r"-> virga\.models\.[\w.]+\.Host$", host), host
    assert "name: str," in host, host
    assert state.startswith("Literal[virga.drivers.base.PowerState.RUNNING]"), state
    assert checksum == "def (text: str | None) -> virga.appliance.storage.checksum.Checksum | None", checksum
    assert engine == "def (url: str) -> sqlalchemy.engine.base.Engine", engine


def test_unknown_virga_names_are_errors():
    """Missing imports are not silenced for `virga`: an unknown module or name is an error, not Any."""
    revealed, out = _mypy_on("import virga.no_such_module\nfrom virga.models import NoSuchModel\n")
    assert re.search(
        r'<string>:1: error: Cannot find implementation or library stub for module named "virga.no_such_module"', out
    ), out
    assert re.search(r'<string>:2: error: Module "virga.models" has no attribute "NoSuchModel"', out), out
