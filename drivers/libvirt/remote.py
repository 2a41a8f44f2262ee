"""Prepare a remote KVM host over SSH and return how the driver reaches it (qemu+ssh://)."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from urllib.parse import urlparse

import asyncssh
from virga.drivers.base import AuthenticationFailed, HostConnection, HostUnreachable, NotSupported

DEFAULT_POOL = "/var/lib/virga/primary"
KEY_DIR = Path(os.environ.get("VIRGA_KEY_DIR", Path.home() / ".config" / "virga" / "keys"))


async def _ssh(
    address: str, port: int, username: str, password: str | None, key: asyncssh.SSHKey | None
) -> asyncssh.SSHClientConnection:
    """Open an SSH connection, translating failures into typed errors."""
    try:
        return await asyncssh.connect(
            address,
            port=port,
            username=username,
            password=password,
            client_keys=[key] if key else (),
            known_hosts=None,
            connect_timeout=15,
            agent_path=None,
            preferred_auth="publickey,password",
        )
    except asyncssh.PermissionDenied as err:
        raise AuthenticationFailed(f"{username}@{address}:{port} rejected the credentials") from err
    except (TimeoutError, OSError, asyncssh.Error) as err:
        raise HostUnreachable(f"cannot reach {address}:{port} over SSH: {err}") from err


async def _check(ssh: asyncssh.SSHClientConnection, command: str, problem: str) -> str:
    """Run a command; NotSupported with a clear message when it fails."""
    result = await ssh.run(command, check=False)
    if result.exit_status != 0:
        detail = str(result.stderr or result.stdout or "").strip().splitlines()[-1:] or ["no output"]
        raise NotSupported(f"not a usable KVM host: {problem} ({detail[0]})")
    return str(result.stdout)


def _store_key(key: asyncssh.SSHKey, address: str, port: int, username: str) -> Path:
    """Save the private key libvirt's ssh transport will use (mode 0600)."""
    KEY_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = KEY_DIR / f"{username}@{address}_{port}.key"
    path.touch(mode=0o600)
    path.write_bytes(key.export_private_key("openssh"))
    os.chmod(path, 0o600)
    return path


async def _authorize(ssh: asyncssh.SSHClientConnection, key: asyncssh.SSHKey) -> None:
    """Add virga's public key to the host's authorized_keys (idempotent)."""
    pub = key.export_public_key("openssh").decode().strip()
    script = (
        "umask 077; mkdir -p ~/.ssh; touch ~/.ssh/authorized_keys; "
        f"grep -qxF {shlex.quote(pub)} ~/.ssh/authorized_keys || echo {shlex.quote(pub)} >> ~/.ssh/authorized_keys"
    )
    await _check(ssh, script, "cannot install virga's SSH key")


async def prepare_kvm_host(
    address: str,
    username: str,
    password: str | None = None,
    private_key: str | None = None,
    port: int = 22,
    pool_path: str = DEFAULT_POOL,
) -> HostConnection:
    """Check a host runs libvirt+QEMU, create its pool directory and return its qemu+ssh:// connection."""
    key = asyncssh.import_private_key(private_key) if private_key else None
    async with await _ssh(address, port, username, password, key) as ssh:
        await _check(ssh, "virsh -c qemu:///system version", "libvirtd does not answer `virsh version`")
        await _check(ssh, "command -v qemu-system-x86_64 || test -x /usr/libexec/qemu-kvm", "QEMU is not installed")
        flags = await ssh.run("grep -cwE 'vmx|svm' /proc/cpuinfo", check=False)
        hardware = str(flags.stdout).strip() not in ("", "0")
        await _check(ssh, f"mkdir -p {shlex.quote(pool_path)}", f"cannot create {pool_path}")
        if key is None:
            key = asyncssh.generate_private_key("ssh-ed25519", comment="virga")
            await _authorize(ssh, key)
    assert key is not None  # given, or generated and authorized above
    keyfile = _store_key(key, address, port, username)
    host = f"[{address}]" if ":" in address else address
    url = f"qemu+ssh://{username}@{host}:{port}/system?keyfile={keyfile}&no_verify=1"
    options = {"pool_path": pool_path, "accelerator": "kvm" if hardware else "tcg"}
    return HostConnection(
        url=url, username=username, private_key=key.export_private_key("openssh").decode(), options=options
    )


async def prepare_from_addhost(conn: HostConnection) -> HostConnection:
    """addHost's hook: http://address[:sshport] or ssh://[user@]address[:port] -> a prepared qemu+ssh:// host."""
    url = urlparse(conn.url)
    if not url.hostname:
        raise NotSupported(f"{conn.url} names no host")
    username = conn.username or url.username or "root"
    port = url.port if url.scheme == "ssh" or url.port not in (None, 80, 443) else 22
    options = dict(conn.options)
    prepared = await prepare_kvm_host(
        url.hostname, username, conn.password, conn.private_key, port or 22, options.pop("pool_path", DEFAULT_POOL)
    )
    return HostConnection(
        url=prepared.url, username=username, private_key=prepared.private_key, options={**options, **prepared.options}
    )
