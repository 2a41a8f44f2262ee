"""Type-check the `virga` package as it is imported, through a link tree that mypy and editors follow.

pyproject's `package-dir` maps app/ to `virga`, drivers/ to `virga.drivers` and appliance/ to `virga.appliance`.
The editable install resolves that with an import hook, which no type checker can follow, so this script keeps
`.venv/virga-typing/virga/` in step with the folders (one symlink per entry of app/, and drivers/ and appliance/
linked whole: files added inside a folder are seen at once, a new top-level module of app/ at the next run).
pyproject's [tool.mypy] `mypy_path` and [tool.pyright] `extraPaths` point there.

    python scripts/typecheck.py            # mypy -p virga: the whole package, as ./dev.sh lint runs it
    python scripts/typecheck.py -c CODE    # any other mypy arguments, same configuration
    python scripts/typecheck.py --tree     # only bring the link tree up to date (./dev.sh's venv setup)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / ".venv" / "virga-typing"
SKIP = {"__pycache__"}


def package_dirs() -> dict[str, str]:
    """The package -> folder mapping from pyproject's [tool.setuptools] package-dir."""
    with open(ROOT / "pyproject.toml", "rb") as f:
        return dict(tomllib.load(f)["tool"]["setuptools"]["package-dir"])


def _link(dest: Path, target: Path) -> None:
    """Point `dest` at `target` with a relative symlink, replaced atomically if it points elsewhere."""
    rel = os.path.relpath(target, dest.parent)
    if dest.is_symlink() and os.readlink(dest) == rel:
        return
    if dest.exists() and not dest.is_symlink():
        raise SystemExit(f"typecheck: {dest} is not a link; remove it")
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}")
    os.symlink(rel, tmp)
    os.replace(tmp, dest)


def build_tree() -> Path:
    """Bring the link tree up to date and return the folder to put on the type checker's path."""
    mapping = package_dirs()
    for package in sorted(mapping, key=lambda p: p.count(".")):
        folder = ROOT / mapping[package]
        dest = TREE.joinpath(*package.split("."))
        children = {p.rsplit(".", 1)[1] for p in mapping if p.rpartition(".")[0] == package}
        if not children:
            _link(dest, folder)
            continue
        if dest.is_symlink():
            dest.unlink()
        dest.mkdir(parents=True, exist_ok=True)
        wanted = {e.name for e in folder.iterdir() if e.name not in SKIP} | children
        for entry in sorted(wanted - children):
            _link(dest / entry, folder / entry)
        for stale in dest.iterdir():
            if stale.name not in wanted and stale.is_symlink():
                stale.unlink()
    return TREE


def main(argv: list[str]) -> int:
    """Update the tree, then run mypy with `argv` (nothing: `-p virga`) from the repository root."""
    build_tree()
    if argv == ["--tree"]:
        return 0
    return subprocess.call([sys.executable, "-m", "mypy", *(argv or ["-p", "virga"])], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
