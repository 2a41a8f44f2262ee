"""One registration mechanism for what virga loads by name: entry-point groups, read by one loader.

- `virga.drivers`: a hypervisor name -> its Driver class (virga.drivers.registry);
- `virga.router_backends`: a zone's `details["router"]` -> its RouterBackend class (virga.services.network);
- `virga.host_setup`: a hypervisor name -> an async function turning an addHost URL into a HostConnection
  (virga.services.hostsetup).

virga's own entries are declared in pyproject.toml ([project.entry-points."<group>"]); another installed
package adds a driver, a router backend or a setup hook by declaring entries in the same groups. Names are
matched ignoring case; an entry is imported the first time it is asked for, never at import time.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

DRIVERS = "virga.drivers"
ROUTER_BACKENDS = "virga.router_backends"
HOST_SETUP = "virga.host_setup"
GROUPS = (DRIVERS, ROUTER_BACKENDS, HOST_SETUP)


@cache
def _table(group: str) -> dict[str, EntryPoint]:
    """The group's entries by lowercased name."""
    return {ep.name.lower(): ep for ep in entry_points(group=group)}


def names(group: str) -> list[str]:
    """Every name registered in a group, sorted."""
    return sorted(_table(group))


def find(group: str, name: str) -> EntryPoint | None:
    """The entry registered under a name in a group (None when there is none)."""
    return _table(group).get(name.lower())


@cache
def load(group: str, name: str) -> Any:
    """Import and return what a group registers under a name; LookupError when nothing is."""
    ep = find(group, name)
    if ep is None:
        raise LookupError(f"nothing is registered as {name!r} in the entry-point group {group}")
    return ep.load()


def forget() -> None:
    """Drop the cached tables and loaded entries (after installing a package that adds entries)."""
    _table.cache_clear()
    load.cache_clear()
