"""Shared helpers for the appliance tests: paths, caches, and skips that fail in CI."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from bench.support.appliance import CACHE
from tests.support import need

REPO = Path(__file__).resolve().parents[2]
ELEMENTS = REPO / "images" / "appliance" / "elements"


def need_tools(*tools: str) -> None:
    """Require every named executable on PATH."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    need(not missing, f"missing tools: {', '.join(missing)} (apt-get install them)")


def need_root() -> None:
    """Require root (chroots, diskimage-builder)."""
    need(os.geteuid() == 0, "needs root")


def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run CMD, capturing text output; raise with the output on failure."""
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    if proc.returncode != 0:
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def manifest(root: Path, skip: tuple[str, ...]) -> dict[str, str]:
    """Every file under ROOT (but the SKIP prefixes) with its mode, owner and content hash."""
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = "/" + str(path.relative_to(root))
        if rel.startswith(skip):
            continue
        st = path.lstat()
        if path.is_symlink():
            found[rel] = f"link {os.readlink(path)}"
        elif path.is_file():
            found[rel] = f"{st.st_mode:o} {st.st_uid}:{st.st_gid} {hashlib.sha256(path.read_bytes()).hexdigest()}"
        elif path.is_dir():
            found[rel] = f"dir {st.st_mode:o} {st.st_uid}:{st.st_gid}"
    return found


def build_wheel(dest: Path) -> Path:
    """This repository's virga wheel, built into DEST."""
    run([str(REPO / ".venv" / "bin" / "pip"), "wheel", "-q", "--no-deps", str(REPO), "-w", str(dest)])
    return next(dest.glob("virga-*.whl"))


def wheelhouse(wheel: Path) -> Path:
    """The cached wheelhouse with every dependency of WHEEL (libvirt-python comes from Debian)."""
    house = CACHE / "wheelhouse"
    house.mkdir(parents=True, exist_ok=True)
    pip = str(REPO / ".venv" / "bin" / "pip")
    run([pip, "wheel", "-q", "--find-links", str(house), "-w", str(house), str(wheel)])
    for stale in house.glob("virga-*.whl"):
        stale.unlink()
    return house
