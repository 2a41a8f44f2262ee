"""Driver registry: entry points in the `virga.drivers` group, imported lazily."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from virga.drivers.base import Driver, HostConnection, NotSupported

GROUP = "virga.drivers"


@cache
def _entry_points() -> dict[str, str]:
    """Map lowercased hypervisor names to their entry point values."""
    return {ep.name.lower(): ep.value for ep in entry_points(group=GROUP)}


def hypervisors() -> list[str]:
    """Every registered hypervisor name."""
    return sorted(_entry_points())


@cache
def driver_class(hypervisor: str) -> type[Driver]:
    """Import and return the driver class registered for a hypervisor."""
    eps = {ep.name.lower(): ep for ep in entry_points(group=GROUP)}
    ep = eps.get(hypervisor.lower())
    if ep is None:
        raise NotSupported(f"no driver is registered for hypervisor {hypervisor!r}")
    cls = ep.load()
    if not (isinstance(cls, type) and issubclass(cls, Driver)):
        raise NotSupported(f"entry point {ep.value} is not a virga driver")
    return cls


def make_driver(hypervisor: str, conn: HostConnection) -> Driver:
    """Build an unconnected driver for one host."""
    return driver_class(hypervisor)(conn)
