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


def _shadow(d: Path, password: str) -> Path:
    """A copy of /etc/shadow where root has this password (only the test's sshd sees it)."""
    hashed = subprocess.run(
        ["openssl", "passwd", "-6", password], capture_output=True, text=True, check=True
    ).stdout.strip()
    lines = [
        f"root:{hashed}:" + ":".join(line.split(":")[2:]) if line.startswith("root:") else line
        for line in Path("/etc/shadow").read_text().splitlines()
    ]
    (d / "shadow").write_text("\n".join(lines) + "\n")
    os.chmod(d / "shadow", 0o600)
    return d / "shadow"


def _sshd(tmp: Path, name: str, extra: str = "", password: str = "") -> Iterator[tuple[int, Path]]:
    """Run sshd on a loopback port with its own config, host key and authorized key.

    With a password, sshd runs in a private mount namespace whose /etc/shadow gives root that password
    and whose /root/.ssh is a temporary directory, so password logins and the key virga installs touch
    neither the machine's accounts nor root's real authorized_keys.
    """
    need(shutil.which("ssh-keygen") is not None and Path("/usr/sbin/sshd").exists(), "apt: openssh-server")
    d = tmp / name
    d.mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "host")], check=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "client")], check=True)
    shutil.copy(d / "client.pub", d / "authorized_keys")
    port = _free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host'}\nPidFile {d / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'} .ssh/authorized_keys\n"
        "PermitRootLogin yes\nPasswordAuthentication yes\n"
        f"KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n{extra}"
    )
    Path("/run/sshd").mkdir(exist_ok=True)
    cmd = ["/usr/sbin/sshd", "-D", "-e", "-f", str(d / "sshd_config")]
    if password:
        shadow, dotssh = _shadow(d, password), d / "dotssh"
        dotssh.mkdir(mode=0o700)
        Path("/root/.ssh").mkdir(mode=0o700, exist_ok=True)
        cmd = [
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            f"mount --bind {shadow} /etc/shadow && mount --bind {dotssh} /root/.ssh && exec {' '.join(cmd)}",
        ]
    proc = subprocess.Popen(cmd, stderr=open(d / "sshd.log", "wb"))
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
        # libvirt's ssh transport records the test host key in root's known_hosts: forget it again
        subprocess.run(["ssh-keygen", "-R", f"[127.0.0.1]:{port}"], capture_output=True, check=False)
        Path("/root/.ssh/known_hosts.old").unlink(missing_ok=True)


PASSWORD = "virga-test-pw"


@pytest.fixture
def sshd(tmp_path: Path, daemons: None) -> Iterator[tuple[int, Path]]:
    """A loopback sshd for this machine (root's password is PASSWORD for this sshd only)."""
    yield from _sshd(tmp_path, "good", password=PASSWORD)


@pytest.fixture
def sshd_no_libvirt(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A loopback sshd whose sessions cannot find virsh (a host without libvirt)."""
    (tmp_path / "empty").mkdir()
    yield from _sshd(tmp_path, "bare", f"SetEnv PATH={tmp_path / 'empty'}\n", password=PASSWORD)


async def test_prepare_and_connect_over_ssh(sshd, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from virga.drivers.libvirt import LibvirtDriver, remote

    monkeypatch.setattr(remote, "KEY_DIR", tmp_path / "keys")
    port, key = sshd
    pool = tmp_path / "pool"
    conn = await remote.prepare_kvm_host(
        "127.0.0.1", "root", private_key=key.read_text(), port=port, pool_path=str(pool)
    )
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


async def _add(admin, cloud, cluster: str, port: int, password: str) -> dict:  # noqa: ANN001
    """addHost through the API for the loopback sshd."""
    return await admin.call(
        "addHost",
        zoneid=cloud.zone,
        podid=cloud.pod,
        clusterid=cluster,
        hypervisor="KVM",
        url=f"http://127.0.0.1:{port}",
        username="root",
        password=password,
    )


async def _kvm_cluster(admin, cloud) -> str:  # noqa: ANN001
    """A KVM cluster in the test cloud."""
    return (
        await admin.call(
            "addCluster",
            zoneid=cloud.zone,
            podid=cloud.pod,
            hypervisor="KVM",
            clustername="kvm-ssh",
            clustertype="CloudManaged",
        )
    )["cluster"][0]["id"]


async def test_add_host_over_ssh_through_the_api(app, admin, cloud, sshd, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from virga.client import ApiError
    from virga.drivers.libvirt import remote

    monkeypatch.setattr(remote, "KEY_DIR", tmp_path / "keys")
    port, _ = sshd
    cluster = await _kvm_cluster(admin, cloud)
    with pytest.raises(ApiError) as err:
        await _add(admin, cloud, cluster, port, "wrong-password")
    assert err.value.code == 431 and "wrong credentials" in err.value.text
    assert await admin.list("listHosts", "host", clusterid=cluster) == []
    assert not (tmp_path / "keys").exists() or list((tmp_path / "keys").iterdir()) == []

    host = (await _add(admin, cloud, cluster, port, PASSWORD))["host"][0]
    assert host["state"] == "Up" and host["hypervisor"] == "KVM" and host["ipaddress"] == "127.0.0.1"
    listed = await admin.list("listHosts", "host", clusterid=cluster)
    assert [h["id"] for h in listed] == [host["id"]] and int(listed[0]["cpunumber"]) > 0
    assert len(list((tmp_path / "keys").iterdir())) == 1  # libvirt's ssh transport uses virga's own key


async def test_add_host_that_is_not_kvm_through_the_api(
    app,
    admin,
    cloud,
    sshd_no_libvirt,
    tmp_path,  # noqa: ANN001
    monkeypatch,
) -> None:
    from virga.client import ApiError
    from virga.drivers.libvirt import remote

    monkeypatch.setattr(remote, "KEY_DIR", tmp_path / "keys")
    cluster = await _kvm_cluster(admin, cloud)
    with pytest.raises(ApiError) as err:
        await _add(admin, cloud, cluster, sshd_no_libvirt[0], PASSWORD)
    assert err.value.code == 534 and "not a usable KVM host" in err.value.text and "libvirtd" in err.value.text
    assert await admin.list("listHosts", "host", clusterid=cluster) == []
    assert not (tmp_path / "keys").exists()
