"""NFS export servers: nfs-ganesha in user space (config rendering + process manager) and kernel nfsd."""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .errors import StorageError, StoreUnreachable, ToolError
from .libnfs import NfsClient
from .tools import need_tool, run


class ExportServer(Protocol):
    """What the storage layer needs from an NFS server: export a directory, give its nfs:// URL."""

    async def start(self) -> None:
        """Start serving the configured exports."""

    async def stop(self) -> None:
        """Stop serving."""

    async def export(self, path: str) -> str:
        """Export a local directory (read-write, no root squash); return its nfs:// URL."""


@dataclass(frozen=True)
class GaneshaSettings:
    """Where ganesha listens."""

    bind_addr: str = "127.0.0.1"
    nfs_port: int = 2049
    mnt_port: int = 20048
    recovery_root: str = "/var/lib/nfs/ganesha"


@dataclass
class GaneshaConfig:
    """Settings plus the exported directories (export id = position + 1)."""

    settings: GaneshaSettings = field(default_factory=GaneshaSettings)
    exports: list[str] = field(default_factory=list)


def render_config(cfg: GaneshaConfig) -> str:
    """ganesha.conf text for the config (pure)."""
    s = cfg.settings
    out = [
        "NFS_CORE_PARAM {",
        f"  Bind_addr = {s.bind_addr};",
        f"  NFS_Port = {s.nfs_port};",
        f"  MNT_Port = {s.mnt_port};",
        "  Enable_NLM = false;",
        "  Enable_RQUOTA = false;",
        "  Protocols = 3, 4;",
        "}",
        "NFSV4 {",
        "  Graceless = true;",
        "  Only_Numeric_Owners = true;",
        "  RecoveryBackend = fs;",
        f"  RecoveryRoot = {s.recovery_root};",
        "}",
        "NFS_KRB5 { Active_krb5 = false; }",
    ]
    for i, path in enumerate(cfg.exports, start=1):
        out += [
            "EXPORT {",
            f"  Export_Id = {i};",
            f'  Path = "{path}";',
            f'  Pseudo = "{path}";',
            "  Access_Type = RW;",
            "  Squash = No_Root_Squash;",
            "  SecType = sys;",
            "  Protocols = 3, 4;",
            "  Transports = TCP;",
            "  FSAL { Name = VFS; }",
            "}",
        ]
    return "\n".join(out) + "\n"


class Ganesha:
    """Runs ganesha.nfsd (optionally inside a network namespace with its own rpcbind) and stops it."""

    def __init__(
        self,
        workdir: str | os.PathLike[str],
        bind_addr: str = "127.0.0.1",
        *,
        netns: str | None = None,
        private_rpcbind: bool = False,
        start_timeout: float = 30.0,
    ) -> None:
        self.workdir = Path(workdir)
        self.config = GaneshaConfig(GaneshaSettings(bind_addr, recovery_root=str(self.workdir / "recovery")))
        self.netns, self.private_rpcbind, self.start_timeout = netns, private_rpcbind, start_timeout
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        """ganesha's log file."""
        return self.workdir / "ganesha.log"

    def url_for(self, path: str) -> str:
        """nfs:// URL of an exported directory."""
        return f"nfs://{self.config.settings.bind_addr}{path}"

    async def export(self, path: str) -> str:
        """Add an export (restarting the server when it is running); return its URL."""
        path = os.path.abspath(path)
        if not os.path.isdir(path):
            raise StorageError(f"cannot export {path}: not a directory")
        if path not in self.config.exports:
            self.config.exports.append(path)
            if self.proc is not None:
                await self.stop()
                await self.start()
        return self.url_for(path)

    def argv(self) -> list[str]:
        """The command line that starts the server (pure given the settings)."""
        conf, log = self.workdir / "ganesha.conf", self.log_path
        nfsd = [
            "ganesha.nfsd",
            "-F",
            "-L",
            str(log),
            "-f",
            str(conf),
            "-p",
            str(self.workdir / "ganesha.pid"),
            "-N",
            "NIV_EVENT",
        ]
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        if not self.private_rpcbind:
            return prefix + nfsd
        script = (
            "mount -t tmpfs virga-run /run || exit 1; rpcbind -f -w & "
            "i=0; while [ ! -S /run/rpcbind.sock ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; "
            f"exec {shlex.join(nfsd)}"
        )
        return prefix + ["unshare", "-m", "--propagation", "private", "sh", "-c", script]

    async def start(self) -> None:
        """Write the config, start the server and wait until the first export answers."""
        if not self.config.exports:
            raise StorageError("ganesha needs at least one export before it starts")
        need_tool("ganesha.nfsd", "nfs-ganesha nfs-ganesha-vfs")
        if self.private_rpcbind:
            need_tool("rpcbind", "rpcbind")
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "recovery").mkdir(exist_ok=True)
        (self.workdir / "ganesha.conf").write_text(render_config(self.config))
        with open(self.workdir / "ganesha.out", "ab") as out:
            self.proc = subprocess.Popen(
                self.argv(), stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
            )
        try:
            await self._wait_ready()
        except BaseException:
            await self.stop()
            raise

    async def _wait_ready(self) -> None:
        """Poll a libnfs mount of the first export until it works, the process dies, or time runs out."""
        host, export = self.config.settings.bind_addr, self.config.exports[0]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_timeout
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise ToolError(f"ganesha.nfsd exited with {self.proc.returncode}: {self._log_tail()}")
            try:
                await asyncio.to_thread(lambda: NfsClient(host, export, timeout=2).__enter__().close())
                return
            except StorageError:
                if loop.time() > deadline:
                    raise StoreUnreachable(
                        f"ganesha did not answer within {self.start_timeout:g}s: {self._log_tail()}"
                    ) from None
                await asyncio.sleep(0.2)

    def _log_tail(self, lines: int = 5) -> str:
        """Last lines of the server's output, for error messages."""
        texts = []
        for name in ("ganesha.out", "ganesha.log"):
            try:
                texts += (self.workdir / name).read_text(errors="replace").splitlines()[-lines:]
            except OSError:
                pass
        return " | ".join(texts)

    async def stop(self) -> None:
        """Terminate the server's process group (ganesha and its private rpcbind); idempotent."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            for _ in range(100):
                if proc.poll() is not None:
                    break
                await asyncio.sleep(0.1)
            if proc.poll() is not None:
                break
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the group's other members (the private rpcbind)
        except ProcessLookupError:
            pass
        proc.wait()


class KernelNfsd:
    """Exports through the kernel NFS server (the appliance): /etc/exports.d + exportfs. Untested here."""

    def __init__(self, host: str, exports_file: str = "/etc/exports.d/virga.exports") -> None:
        self.host, self.exports_file = host, Path(exports_file)

    async def start(self) -> None:
        """Re-export everything listed (the nfs-server unit itself is systemd's business)."""
        await run("exportfs", "-ra", package="nfs-kernel-server")

    async def stop(self) -> None:
        """Withdraw virga's exports."""
        if self.exports_file.exists():
            self.exports_file.unlink()
        await run("exportfs", "-ra", package="nfs-kernel-server")

    async def export(self, path: str) -> str:
        """Add a line for path and re-export; return its URL."""
        path = os.path.abspath(path)
        line = f"{path} *(rw,no_root_squash,no_subtree_check,insecure)\n"
        lines = self.exports_file.read_text().splitlines(keepends=True) if self.exports_file.exists() else []
        if line not in lines:
            self.exports_file.parent.mkdir(parents=True, exist_ok=True)
            self.exports_file.write_text("".join(lines + [line]))
        await self.start()
        return f"nfs://{self.host}{path}"
