"""vSphere faults and transport errors surface as typed driver errors with clear messages."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from virga.drivers.base import (
    AuthenticationFailed,
    DriverError,
    HostConnection,
    HostUnreachable,
    InstanceNotFound,
    InvalidSpec,
    NotSupported,
    TemplateSpec,
    VolumeSpec,
)
from virga.drivers.vmware import VMwareDriver

from tests.support import need
from tests.vcsim.fixture import Vcsim, running
from tests.vmware.conftest import TMPL, deploy, spec, vm_names, volume

pytestmark = pytest.mark.integration


def _conn(url: str, password: str = "s3cret", **opts: str) -> HostConnection:
    """A connection to the simulator (verification off unless overridden)."""
    return HostConnection(url=url, username="virga", password=password, options={"verify_ssl": "false", **opts})


async def test_wrong_password(sim: Vcsim) -> None:
    with pytest.raises(AuthenticationFailed, match="rejected the user name or password"):
        await VMwareDriver(_conn(sim.url, password="wrong")).connect()


async def test_unreachable_endpoint() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(HostUnreachable, match="refused the connection"):
        await VMwareDriver(_conn(f"https://127.0.0.1:{port}/sdk")).connect()


async def test_certificate_is_verified_by_default(sim: Vcsim) -> None:
    conn = HostConnection(url=sim.url, username=sim.username, password=sim.password)
    with pytest.raises(HostUnreachable, match="certificate could not be verified.*verify_ssl=false"):
        await VMwareDriver(conn).connect()


async def test_unknown_host_option(sim: Vcsim) -> None:
    with pytest.raises(InvalidSpec, match="host 'nope' not found"):
        await VMwareDriver(_conn(sim.url, host="nope")).connect()


async def test_power_off_when_already_off(driver: VMwareDriver) -> None:
    s = await deploy(driver)
    with pytest.raises(DriverError, match="already poweredOff"):
        await driver.stop_instance(s.uuid, force=True)


async def test_unknown_instance(driver: VMwareDriver) -> None:
    with pytest.raises(InstanceNotFound):
        await driver.start_instance("4d7c0a3e-0000-4000-8000-000000000000")


async def test_missing_template_leaves_nothing_behind(driver: VMwareDriver) -> None:
    before = vm_names(driver)
    ghost = TemplateSpec(uuid="ghost", name="no-such-template", url="vsphere-template://no-such-template")
    with pytest.raises(InvalidSpec, match="template 'no-such-template' does not exist"):
        await driver.prepare_volume(volume(), ghost)
    root = volume()
    root = VolumeSpec(**{**root.__dict__, "path": (await driver.prepare_volume(root, None)).path})
    bad = spec(root, ghost)
    with pytest.raises(InvalidSpec, match="template 'no-such-template' does not exist"):
        await driver.create_instance(bad)
    assert vm_names(driver) == before
    with pytest.raises(InstanceNotFound):
        await driver.get_instance(bad.uuid)
    await driver.delete_volume(root)


async def test_unknown_port_group_is_refused_before_cloning(driver: VMwareDriver) -> None:
    before = vm_names(driver)
    root = volume()
    root = VolumeSpec(**{**root.__dict__, "path": (await driver.prepare_volume(root, TMPL)).path})
    bad = spec(root, TMPL, bridge="no-such-portgroup")
    with pytest.raises(InvalidSpec, match="port group 'no-such-portgroup' does not exist"):
        await driver.create_instance(bad)
    assert vm_names(driver) == before
    assert not [what for what, _ in driver.recorded if what.startswith("cloning")]  # type: ignore[attr-defined]
    await driver.delete_volume(root)


async def test_failed_fit_after_clone_is_undone(driver: VMwareDriver) -> None:
    before = vm_names(driver)
    missing = VolumeSpec(**{**volume().__dict__, "path": "[LocalDS_0] virga/missing.vmdk"})
    with pytest.raises(DriverError, match="fitting .* failed"):
        await driver.create_instance(spec(missing, TMPL))
    assert [what for what, _ in driver.recorded if what.startswith("cloning")]  # type: ignore[attr-defined]
    assert vm_names(driver) == before


async def test_duplicate_uuid_is_refused(driver: VMwareDriver) -> None:
    s = await deploy(driver)
    with pytest.raises(DriverError, match="already exists"):
        await driver.create_instance(s)


async def test_migration_to_another_server_is_not_supported(driver: VMwareDriver) -> None:
    s = await deploy(driver)
    elsewhere = VMwareDriver(_conn("https://127.0.0.2:1/sdk"))
    with pytest.raises(NotSupported, match="not supported by the VMware hypervisor"):
        await driver.migrate_instance(s.uuid, elsewhere, live=False)


async def test_ca_file_trusts_a_private_ca(tmp_path: Path) -> None:
    need(shutil.which("openssl") is not None, "openssl is missing (apt install openssl)")
    cert, key = tmp_path / "vcsim.pem", tmp_path / "vcsim.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    with running("-cert", str(cert), "-key", str(key)) as sim:
        d = VMwareDriver(
            HostConnection(url=sim.url, username=sim.username, password=sim.password, options={"ca_file": str(cert)})
        )
        try:
            assert (await d.connect()).name  # verification stays on: the certificate is trusted through ca_file
        finally:
            await d.close()
        with pytest.raises(HostUnreachable, match="certificate could not be verified"):
            await VMwareDriver(HostConnection(url=sim.url, username=sim.username, password=sim.password)).connect()
        with pytest.raises(InvalidSpec, match="ca_file .* is not a readable PEM CA bundle"):
            await VMwareDriver(
                HostConnection(
                    url=sim.url,
                    username=sim.username,
                    password=sim.password,
                    options={"ca_file": str(tmp_path / "missing.pem")},
                )
            ).connect()
