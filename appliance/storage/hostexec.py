"""Where a primary-storage copy runs: here (LOCAL) or on the KVM host that holds the file, over SSH (SshHost).

A remote KVM host reaches the image store itself (`qemu-img convert ... nfs://store/path`, libnfs through the
qemu-block-extra block driver), the way CloudStack's KVM agent writes to secondary storage: the data goes
host -> store once instead of host -> management server -> store. Before copying, `probe_store` checks that
the host has qemu-img, that qemu-img has the NFS block driver and that the store answers from the host, and
names what is missing. A host that cannot reach the store at all (not on the storage network) has its
standalone snapshot file streamed back through the SSH channel instead (primary.py), and the event says so.
"""

from __future__ import annotations

import json
import os
import shlex
import uuid as uuidlib
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import asyncssh

from .errors import StorageError, StoreUnreachable, ToolError
from .tools import run

NOT_FOUND = 127
PACKAGES = {"qemu-img": "qemu-utils"}


class HostToolMissing(ToolError):
    """The KVM host lacks a tool (or qemu-img's NFS block driver) the copy needs."""


class HostCannotReachStore(StoreUnreachable):
    """The KVM host cannot reach the NFS image store."""


class HostUnreachable(StorageError):
    """The KVM host does not answer over SSH or refuses virga's key."""


class Executor(Protocol):
    """Runs the commands of a copy where the primary-storage file is."""

    @property
    def where(self) -> str:
        """Where the commands run, for messages and events."""
        ...

    async def run(self, *argv: str) -> str:
        """Run a command; stdout; ToolError (HostToolMissing when absent) on failure."""
        ...

    async def exists(self, path: str) -> bool:
        """Whether a file is at that path."""
        ...

    async def rename(self, src: str, dst: str) -> None:
        """Rename a file over another."""
        ...

    async def remove(self, path: str) -> None:
        """Remove a file if it is there."""
        ...


class Local:
    """This management server."""

    where = "on this management server"

    async def run(self, *argv: str) -> str:
        """Run a command here."""
        return await run(*argv, package=PACKAGES.get(argv[0], argv[0]))

    async def exists(self, path: str) -> bool:
        """Whether a local file exists."""
        return os.path.exists(path)

    async def rename(self, src: str, dst: str) -> None:
        """os.replace."""
        os.replace(src, dst)

    async def remove(self, path: str) -> None:
        """Unlink if present."""
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


LOCAL = Local()


@dataclass
class SshHost:
    """A KVM host reached over SSH with the key virga installed at addHost (the one libvirt's qemu+ssh uses)."""

    address: str
    port: int = 22
    username: str = "root"
    keyfile: str | None = None
    password: str | None = None
    conn: asyncssh.SSHClientConnection | None = None

    @classmethod
    def from_url(cls, url: str, password: str | None = None) -> SshHost | None:
        """The SSH side of a qemu+ssh:// libvirt URL (None for any other URL)."""
        parts = urlsplit(url)
        if parts.scheme != "qemu+ssh" or not parts.hostname:
            return None
        keyfile = parse_qs(parts.query).get("keyfile", [None])[0]
        return cls(parts.hostname, parts.port or 22, parts.username or "root", keyfile, password)

    @property
    def where(self) -> str:
        """Where the commands run, for messages and events."""
        return f"on host {self.address} over SSH"

    async def __aenter__(self) -> SshHost:
        """Open the SSH connection."""
        keys = [self.keyfile] if self.keyfile else ()
        try:
            self.conn = await asyncssh.connect(
                self.address,
                port=self.port,
                username=self.username,
                password=self.password,
                client_keys=keys,
                known_hosts=None,
                agent_path=None,
                connect_timeout=15,
            )
        except (OSError, asyncssh.Error) as exc:
            raise HostUnreachable(f"cannot reach host {self.address}:{self.port} over SSH: {exc}") from exc
        return self

    async def __aexit__(
        self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Close the SSH connection."""
        if self.conn is not None:
            self.conn.close()
            await self.conn.wait_closed()
            self.conn = None

    async def _exec(self, argv: list[str]) -> asyncssh.SSHCompletedProcess:
        """Run argv in the host's shell (quoted)."""
        assert self.conn is not None, "use `async with SshHost(...)`"
        try:
            return await self.conn.run(shlex.join(argv), check=False)
        except (OSError, asyncssh.Error) as exc:
            raise HostUnreachable(f"lost the SSH connection to host {self.address}: {exc}") from exc

    async def run(self, *argv: str) -> str:
        """Run a command on the host; typed errors naming the host and what is missing."""
        res = await self._exec(list(argv))
        if res.exit_status == NOT_FOUND:
            pkg = PACKAGES.get(argv[0], argv[0])
            raise HostToolMissing(f"{argv[0]} is not installed on host {self.address} (install the {pkg} package)")
        if res.exit_status != 0:
            err = str(res.stderr or res.stdout or "").strip()
            raise ToolError(
                f"{argv[0]} {argv[1] if len(argv) > 1 else ''} failed {self.where} (exit {res.exit_status}): {err}"
            )
        return str(res.stdout)

    async def exists(self, path: str) -> bool:
        """`test -e` on the host."""
        return (await self._exec(["test", "-e", path])).exit_status == 0

    async def rename(self, src: str, dst: str) -> None:
        """`mv -f` on the host."""
        await self.run("mv", "-f", "--", src, dst)

    async def remove(self, path: str) -> None:
        """`rm -f` on the host."""
        await self.run("rm", "-f", "--", path)

    async def fetch(self, path: str, local: str) -> None:
        """Stream a file of the host into a local file through the SSH channel (`cat`)."""
        assert self.conn is not None, "use `async with SshHost(...)`"
        try:
            res = await self.conn.run(shlex.join(["cat", "--", path]), stdout=local, encoding=None, check=False)
        except (OSError, asyncssh.Error) as exc:
            raise HostUnreachable(f"streaming {path} from host {self.address} failed: {exc}") from exc
        if res.exit_status != 0:
            err = (res.stderr or b"").decode(errors="replace").strip() if isinstance(res.stderr, bytes) else ""
            raise ToolError(f"cannot read {path} on host {self.address}: {err or f'exit {res.exit_status}'}")


async def image_info(on: Executor, path: str, fmt: str | None = None, *, force_share: bool = False) -> dict[str, Any]:
    """`qemu-img info --output=json` of a path or nfs:// URL, run where `on` says."""
    argv = ["qemu-img", "info", "--output=json"] + (["-U"] if force_share else []) + (["-f", fmt] if fmt else [])
    return dict(json.loads(await on.run(*argv, path)))


async def probe_store(on: Executor, store_url: str) -> None:
    """Check that `on` can write to the store with qemu-img: the tool, its NFS driver, the store's answer."""
    if isinstance(on, Local):
        return
    probe = f"{store_url.rstrip('/')}/.virga-probe-{uuidlib.uuid4().hex[:8]}"
    try:
        await on.run("qemu-img", "info", probe)
    except HostToolMissing:
        raise
    except ToolError as exc:
        text = str(exc)
        if "Unknown protocol" in text or "Unknown driver" in text:
            raise HostToolMissing(
                f"qemu-img {on.where} has no NFS block driver, so it cannot write to the image "
                f"store {store_url} (install the qemu-block-extra package)"
            ) from None
        if not any(mark in text for mark in ("NOENT", "No such file")):  # a lookup failing: the store answered
            raise HostCannotReachStore(f"the image store {store_url} does not answer {on.where}: {text}") from None
