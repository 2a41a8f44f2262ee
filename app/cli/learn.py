"""`virga learn export FILE`: the API calls of the last TUI session as a runnable shell script."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from virga.config import config_dir

SCRIPT_HEAD = """#!/bin/sh
# The API calls of a virga TUI session ({when}), written by `virga learn export`.
# Run it against the same cloud (same --url/--profile flags as the TUI); secrets come from the environment.
set -e
VIRGA="${{VIRGA:-virga}}"
"""


def session_path() -> Path:
    """Where the TUI keeps the calls of its current (or last) session."""
    return config_dir() / "learn" / "session.jsonl"


def load(path: Path) -> list[dict[str, Any]]:
    """The recorded calls, oldest first (unreadable lines skipped)."""
    calls = []
    for line in path.read_text().splitlines():
        try:
            calls.append(json.loads(line))
        except ValueError:
            continue
    return calls


def argument(key: str, value: Any) -> str:
    """One key=value word; a secret the session file left out becomes an environment variable."""
    if value is None:
        return f'{key}="${{VIRGA_{key.upper()}:?set VIRGA_{key.upper()}}}"'
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    return shlex.quote(f"{key}={value}")


def script(calls: list[dict[str, Any]], cmk: bool = False, when: str = "") -> str:
    """The shell script: one command per successful call; failed ones as comments with their error."""
    out = [SCRIPT_HEAD.format(when=when or "unknown time")]
    for call in calls:
        command, params = str(call["command"]), dict(call.get("params") or {})
        if cmk:
            from virga.tui.api import cmk_line

            words = cmk_line(command, {}).split(" ")
        else:
            words = ['"$VIRGA"', "api", command]
        line = " ".join([*words, *(argument(k, v) for k, v in params.items())])
        outcome = str(call.get("outcome", ""))
        if outcome == "ok":
            out.append(line + "\n")
        else:
            out.append(f"# {outcome or 'unfinished'}:\n# {line}\n")
    return "".join(out)


def export(target: Path, source: Path | None = None, cmk: bool = False) -> int:
    """Write the script of the session file to target (executable); the number of calls written."""
    source = source or session_path()
    if not source.exists():
        raise SystemExit(f"virga: no TUI session recorded yet ({source}); open `virga`, act, then export")
    calls = load(source)
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(calls[0]["time"])) if calls else ""
    target.write_text(script(calls, cmk=cmk, when=when))
    target.chmod(0o755)
    return len(calls)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`virga learn export FILE [--cmk]`."""
    learn = sub.add_parser("learn", help="the API calls of the last TUI session: virga learn export FILE")
    learn.add_argument("action", choices=["export"])
    learn.add_argument("file")
    learn.add_argument("--cmk", action="store_true", help="write cmk commands instead of `virga api`")


def cmd_learn(args: argparse.Namespace) -> int:
    """Run `virga learn export`."""
    n = export(Path(args.file), cmk=args.cmk)
    print(f"virga: {n} calls written to {args.file}", file=sys.stderr)
    return 0
