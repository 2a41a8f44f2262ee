"""Regenerate the initial Alembic migration from the models (until the first release, one revision)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from virga.db import make_engine
from virga.migrations.runner import autogenerate

VERSIONS = Path(__file__).resolve().parent.parent / "app" / "migrations" / "versions"
TARGET = VERSIONS / "0001_initial_schema.py"


def main() -> None:
    """Autogenerate against an empty database and install the result as 0001 with a fixed revision id."""
    TARGET.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as d:
        autogenerate(make_engine(f"sqlite:///{d}/empty.db"), "initial schema")
    new = next(p for p in VERSIONS.glob("*_initial_schema.py") if p != TARGET)
    text = re.sub(r"revision = '[0-9a-f]+'", "revision = '0001'", new.read_text())
    text = re.sub(r"Revision ID: [0-9a-f]+", "Revision ID: 0001", text)
    text = re.sub(r"Create Date: .*\n", "", text)
    TARGET.write_text(text)
    new.unlink()


if __name__ == "__main__":
    main()
