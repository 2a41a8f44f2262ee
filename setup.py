"""Map the top-level folders onto the one `virga` import namespace: pyproject's [tool.setuptools] package-dir."""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_packages, setup

with open(Path(__file__).resolve().parent / "pyproject.toml", "rb") as f:
    ROOTS: dict[str, str] = tomllib.load(f)["tool"]["setuptools"]["package-dir"]


def _packages() -> list[str]:
    """Every package below each mapped folder, named in the virga namespace."""
    found: list[str] = []
    for name, folder in ROOTS.items():
        found.append(name)
        found += [f"{name}.{sub}" for sub in find_packages(folder)]
    return found


setup(packages=_packages(), package_dir=ROOTS)
