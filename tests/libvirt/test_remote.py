"""prepare_kvm_host against a real OpenSSH server on a loopback port pointing at this machine."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from virga.drivers.base import AuthenticationFailed, HostUnreachable, NotSupported

from tests.libvirt.support import need

pytestmark = pytest.mark.integration


def _free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sshd(tmp: Path, name: str, extra: str = "") -> Iterator[tuple[int, Path]]:
    """Run sshd on a loopback port with its own config, host key and authorized key."""
    need(shutil.which("ssh-keygen") is not None and Path("/usr/sbin/sshd").exists(), "apt: openssh-server")
    d = tmp / name
    d.mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "host")], check=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "client")], check=True)
    shutil.copy(d / "client.pub", d / "authorized_keys")
    port = _free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host'}\nPidFile {d / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\nPermitRootLogin yes\nPasswordAuthentication yes\n"
        f"KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n{extra}"
    )
    Path("/run/sshd").mkdir(exist_ok=True)
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(d / "sshd_config")],
                            stderr=open(d / "sshd.log", "wb"))
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port, d / "client"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def sshd(tmp_path: Path, daemons: None) -> Iterator[tuple[int, Path]]:
    """A loopback sshd for this machine."""
    yield from _sshd(tmp_path, "good")


@pytest.fixture
def sshd_no_libvirt(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A loopback sshd whose sessions cannot find virsh (a host without libvirt)."""
    (tmp_path / "empty").mkdir()
    yield from _sshd(tmp_path, "bare", f"SetEnv PATH={tmp_path / 'empty'}\n")


async def test_prepare_and_connect_over_ssh(sshd, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from virga.drivers.libvirt import LibvirtDriver, remote

    monkeypatch.setattr(remote, "KEY_DIR", tmp_path / "keys")
    port, key = sshd
    pool = tmp_path / "pool"
    conn = await remote.prepare_kvm_host("127.0.0.1", "root", private_key=key.read_text(), port=port,
                                         pool_path=str(pool))
    assert conn.url.startswith(f"qemu+ssh://root@127.0.0.1:{port}/system?keyfile=")
    assert pool.is_dir() and conn.options["accelerator"] in ("kvm", "tcg")
    driver = LibvirtDriver(conn)
    facts = await driver.connect()
    assert facts.hypervisor == "KVM" and facts.cpu_count > 0
    await driver.ping()
    await driver.close()


async def test_wrong_password_is_authentication_failed(sshd) -> None:  # noqa: ANN001
    from virga.drivers.libvirt.remote import prepare_kvm_host

    with pytest.raises(AuthenticationFailed):
        await prepare_kvm_host("127.0.0.1", "root", password="definitely-wrong", port=sshd[0])


async def test_unreachable_host() -> None:
    from virga.drivers.libvirt.remote import prepare_kvm_host

    with pytest.raises(HostUnreachable) as err:
        await prepare_kvm_host("127.0.0.1", "root", password="x", port=_free_port())
    assert not isinstance(err.value, AuthenticationFailed)


async def test_host_without_libvirt_is_not_supported(sshd_no_libvirt) -> None:  # noqa: ANN001
    from virga.drivers.libvirt.remote import prepare_kvm_host

    port, key = sshd_no_libvirt
    with pytest.raises(NotSupported, match="libvirtd"):
        await prepare_kvm_host("127.0.0.1", "root", private_key=key.read_text(), port=port)
    assert os.path.exists(key)
