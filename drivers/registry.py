"""Driver registry: the `virga.drivers` entry-point group (virga.plugins), imported lazily."""

from __future__ import annotations

from functools import cache

from virga import plugins
from virga.drivers.base import Driver, HostConnection, NotSupported

GROUP = plugins.DRIVERS


def hypervisors() -> list[str]:
    """Every registered hypervisor name."""
    return plugins.names(GROUP)


def canonical(hypervisor: str) -> str:
    """CloudStack's spelling of a hypervisor name (the name its driver is registered under), else the name given."""
    ep = plugins.find(GROUP, hypervisor)
    return ep.name if ep is not None else hypervisor


@cache
def driver_class(hypervisor: str) -> type[Driver]:
    """Import and return the driver class registered for a hypervisor."""
    ep = plugins.find(GROUP, hypervisor)
    if ep is None:
        raise NotSupported(f"no driver is registered for hypervisor {hypervisor!r}")
    cls = plugins.load(GROUP, hypervisor)
    if not (isinstance(cls, type) and issubclass(cls, Driver)):
        raise NotSupported(f"entry point {ep.value} is not a virga driver")
    return cls


def make_driver(hypervisor: str, conn: HostConnection) -> Driver:
    """Build an unconnected driver for one host."""
    return driver_class(hypervisor)(conn)
