"""One registration mechanism: drivers, router backends and host-setup hooks are entry points read by virga.plugins."""

from __future__ import annotations

import inspect
import tomllib
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from virga import plugins
from virga.drivers import registry
from virga.drivers.base import Driver, HostConnection
from virga.services import hostsetup, network

ROOT = Path(__file__).resolve().parent.parent


class FakeRouters:
    """A router backend another package could register."""

    healthy_values = ()

    async def sync(self, app: Any, network_id: int) -> dict[str, Any]:
        """Nothing to apply."""
        return {}

    async def destroy(self, app: Any, network_id: int) -> None:
        """Nothing to remove."""


async def fake_setup(conn: HostConnection) -> HostConnection:
    """A setup hook that rewrites the URL."""
    return HostConnection(url="fake:///prepared", username=conn.username, password=conn.password)


@pytest.fixture
def extra_entries(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Entries of a pretend third-party package, added to the installed ones."""
    real = plugins.entry_points
    extra = [
        EntryPoint("fakerouters", f"{__name__}:FakeRouters", plugins.ROUTER_BACKENDS),
        EntryPoint("FakeHV", f"{__name__}:fake_setup", plugins.HOST_SETUP),
        EntryPoint("FakeHV", "virga.drivers.simulator:SimulatorDriver", plugins.DRIVERS),
    ]

    def entry_points(group: str) -> list[EntryPoint]:
        """The installed entries of a group plus the pretend package's."""
        return [*real(group=group), *(ep for ep in extra if ep.group == group)]

    monkeypatch.setattr(plugins, "entry_points", entry_points)
    plugins.forget()
    registry.driver_class.cache_clear()
    yield
    monkeypatch.undo()
    plugins.forget()
    registry.driver_class.cache_clear()


def test_the_groups_hold_what_pyproject_declares() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    for group in plugins.GROUPS:
        assert plugins.names(group) == sorted(n.lower() for n in declared[group]), group


def test_hypervisor_names_are_spelled_as_registered() -> None:
    assert [registry.canonical(n) for n in ("kvm", "SIMULATOR", "xenserver", "vmware")] == [
        "KVM",
        "Simulator",
        "XenServer",
        "VMware",
    ]
    assert registry.canonical("hyperv") == "hyperv"  # not registered: as given


def test_each_entry_loads_to_its_kind() -> None:
    for name in plugins.names(plugins.DRIVERS):
        if name in ("vmware", "xenserver", "kvm"):  # their modules need optional libraries to import
            continue
        assert issubclass(plugins.load(plugins.DRIVERS, name), Driver)
    for name in plugins.names(plugins.ROUTER_BACKENDS):
        backend = plugins.load(plugins.ROUTER_BACKENDS, name)
        assert inspect.iscoroutinefunction(backend.sync) and inspect.iscoroutinefunction(backend.destroy)
    for name in plugins.names(plugins.HOST_SETUP):
        assert inspect.iscoroutinefunction(plugins.load(plugins.HOST_SETUP, name))


def test_nothing_registered_is_a_lookup_error() -> None:
    with pytest.raises(LookupError, match="virga.router_backends"):
        plugins.load(plugins.ROUTER_BACKENDS, "no-such-backend")
    assert plugins.find(plugins.HOST_SETUP, "simulator") is None


@pytest.mark.usefixtures("extra_entries")
def test_a_package_adds_a_driver_by_an_entry_point() -> None:
    assert "fakehv" in registry.hypervisors()
    assert registry.driver_class("fakehv").__name__ == "SimulatorDriver"


@pytest.mark.usefixtures("extra_entries")
def test_a_package_adds_a_router_backend_a_zone_names() -> None:
    app = SimpleNamespace(extensions={})
    zone = SimpleNamespace(details={"router": "FakeRouters"})
    backend = network.backend_for(app, zone)  # type: ignore[arg-type]
    assert isinstance(backend, FakeRouters)
    assert network.backend_for(app, zone) is backend  # one per kind and app


@pytest.mark.usefixtures("extra_entries")
async def test_a_package_adds_a_host_setup_hook() -> None:
    host = SimpleNamespace(hypervisor="FakeHV")
    done = await hostsetup.prepare_host(host, HostConnection(url="ssh://10.0.0.9"))  # type: ignore[arg-type]
    assert done.url == "fake:///prepared"
    as_given = HostConnection(url="qemu:///system")
    assert await hostsetup.prepare_host(host, as_given) is as_given  # type: ignore[arg-type]
