#!/usr/bin/python3
"""Print the mirror URI apt is configured with for Debian ('debian') or its security archive."""

from __future__ import annotations

import sys
from pathlib import Path

SOURCES = Path("/etc/apt")


def deb822_entries(text: str) -> list[tuple[str, list[str]]]:
    """(URI, suites) pairs from a deb822 .sources file."""
    entries: list[tuple[str, list[str]]] = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if ":" in line and not line.startswith(("#", " ")):
                key, _, value = line.partition(":")
                fields[key.strip().lower()] = value.strip()
        if "uris" in fields and "suites" in fields:
            entries += [(uri, fields["suites"].split()) for uri in fields["uris"].split()]
    return entries


def one_line_entries(text: str) -> list[tuple[str, list[str]]]:
    """(URI, [suite]) pairs from a one-line-style .list file."""
    entries: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        words = [w for w in line.split() if not w.startswith("[")]
        if len(words) >= 3 and words[0] == "deb":
            entries.append((words[1], [words[2]]))
    return entries


def entries() -> list[tuple[str, list[str]]]:
    """Every apt source on this machine."""
    found: list[tuple[str, list[str]]] = []
    for path in sorted(SOURCES.glob("sources.list.d/*.sources")):
        found += deb822_entries(path.read_text())
    for path in [SOURCES / "sources.list", *sorted(SOURCES.glob("sources.list.d/*.list"))]:
        if path.exists():
            found += one_line_entries(path.read_text())
    return found


def mirror(kind: str) -> str:
    """The URI serving bookworm (kind 'debian') or bookworm-security (kind 'debian-security')."""
    for uri, suites in entries():
        security = any(s.endswith("-security") for s in suites)
        if ("bookworm" in suites or "bookworm-security" in suites) and security == (kind == "debian-security"):
            return uri.rstrip("/")
    raise SystemExit(f"apt_mirror: no {kind} bookworm source in {SOURCES}")


if __name__ == "__main__":
    print(mirror(sys.argv[1]))
