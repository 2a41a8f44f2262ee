"""Printing API answers: JSON, or tables for lists (like CloudMonkey)."""

from __future__ import annotations

import json
import sys
from typing import Any

PREFERRED = ["id", "name", "state", "zonename", "ipaddress", "hostname", "type", "displaytext", "status"]


def as_json(body: dict[str, Any]) -> str:
    """Pretty JSON."""
    return json.dumps(body, indent=2, sort_keys=True)


def _items(body: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The list inside a list response, if it is one."""
    lists = [v for k, v in body.items() if k != "count" and isinstance(v, list)]
    if "count" in body and len(lists) == 1:
        return [x for x in lists[0] if isinstance(x, dict)]
    return None


def table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    """A plain-text table of scalar fields."""
    if not rows:
        return "(none)"
    if columns is None:
        keys = [k for k in PREFERRED if any(k in r for r in rows)]
        extra = [k for k in rows[0] if k not in keys and not isinstance(rows[0][k], list | dict)]
        columns = (keys + extra)[:8]
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = "  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))
    out = [line] + ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(out)


def show(body: dict[str, Any], fmt: str = "table") -> None:
    """Print an answer as a table (lists), key/value lines (objects) or JSON."""
    if fmt == "json":
        print(as_json(body))
        return
    items = _items(body)
    if items is not None:
        print(table(items))
        print(f"({body.get('count', len(items))} total)")
        return
    if not body:
        print("(none)")
        return
    objs = [v for v in body.values() if isinstance(v, dict)]
    obj = objs[0] if len(body) == 1 and objs else body
    for key, value in obj.items():
        text = json.dumps(value) if isinstance(value, list | dict) else str(value)
        print(f"{key:24} {text}")


def spinner(job: dict[str, Any]) -> None:
    """Show an async job's progress on stderr."""
    frames = "|/-\\"
    spinner.n = getattr(spinner, "n", 0) + 1  # type: ignore[attr-defined]
    pct = job.get("jobprocstatus", 0)
    sys.stderr.write(f"\r{frames[spinner.n % 4]} job {job.get('jobid', '')[:8]} {pct}% ")  # type: ignore[attr-defined]
    sys.stderr.flush()
    if job.get("jobstatus", 0) != 0:
        sys.stderr.write("\r" + " " * 40 + "\r")
