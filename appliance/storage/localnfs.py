"""A lasting NFS export on this machine: nfs-ganesha with a private rpcbind in its own network namespace,
recorded in a state file so later runs find it again (or restart it on the same address)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
from pathlib import Path
from typing import Any

from .errors import StorageError
from .ganesha import Ganesha, KernelNfsd
from .libnfs import NfsClient
from .netns import NetnsLink

PREFIX = "vgn"


def _alive(pid: int) -> bool:
    """Whether pid is a running ganesha.nfsd (not a reused pid)."""
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"ganesha.nfsd" in cmd


def nfs_server_problem() -> str | None:
    """Why no NFS export can be made here (None when ganesha or the kernel server can serve)."""
    if shutil.which("ganesha.nfsd") and shutil.which("rpcbind"):
        return None
    if shutil.which("exportfs") and Path("/proc/fs/nfsd").is_dir():
        return None
    return (
        "no NFS server: install nfs-ganesha, nfs-ganesha-vfs and rpcbind (apt), or run the kernel "
        "NFS server (nfs-kernel-server)"
    )


class LocalNfs:
    """Exports one directory of this machine for secondary storage; the server outlives this process."""

    def __init__(self, workdir: str | os.PathLike[str]) -> None:
        self.workdir = Path(workdir)
        self.state_file = self.workdir / "state.json"

    def state(self) -> dict[str, Any]:
        """The recorded server (empty when none)."""
        try:
            data = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _save(self, data: dict[str, object]) -> None:
        """Record the server."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps(data, indent=1))

    async def _answers(self, host: str, export: str) -> bool:
        """Whether an NFS mount of the export works now."""
        try:
            await asyncio.to_thread(lambda: NfsClient(host, export, timeout=3).__enter__().close())
        except StorageError:
            return False
        return True

    async def ensure(self, export: str | os.PathLike[str]) -> tuple[str, bool]:
        """The export's nfs:// URL, starting the server when it is not running; True when started now."""
        path = os.path.abspath(export)
        Path(path).mkdir(parents=True, exist_ok=True)
        st = self.state()
        if (
            st.get("url")
            and st.get("export") == path
            and (st.get("kind") == "kernel" or _alive(int(st.get("pid") or 0)))
        ):
            host = str(st["url"]).split("/")[2]
            if await self._answers(host, path):
                return str(st["url"]), False
        await self.stop(keep_link=True)
        if shutil.which("ganesha.nfsd"):
            return await self._start_ganesha(path, st), True
        url = await KernelNfsd("127.0.0.1").export(path)
        self._save({"kind": "kernel", "export": path, "url": url})
        return url, True

    async def _start_ganesha(self, path: str, st: dict[str, object]) -> str:
        """Start ganesha in the recorded namespace (recreated on the same addresses) or in a new one."""
        old = st.get("link")
        link = NetnsLink(**old) if isinstance(old, dict) else NetnsLink.create(PREFIX)
        link.ensure()
        g = Ganesha(self.workdir / "ganesha", link.ns_addr, netns=link.name, private_rpcbind=True)
        await g.export(path)
        try:
            await g.start()
        except BaseException:
            link.destroy()
            raise
        assert g.proc is not None
        url = g.url_for(path)
        self._save(
            {
                "kind": "ganesha",
                "export": path,
                "url": url,
                "pid": g.proc.pid,
                "link": {
                    "name": link.name,
                    "host_if": link.host_if,
                    "host_addr": link.host_addr,
                    "ns_addr": link.ns_addr,
                },
            }
        )
        g.proc = None  # detached: it serves after this process ends
        return url

    async def stop(self, keep_link: bool = False) -> None:
        """Stop the recorded server (its process group) and remove its namespace unless keep_link; idempotent."""
        st = self.state()
        pid = int(st.get("pid") or 0)
        if pid and _alive(pid):
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(pid, sig)
                except ProcessLookupError:
                    break
                for _ in range(50):
                    if not _alive(pid):
                        break
                    await asyncio.sleep(0.1)
        if st.get("kind") == "kernel":
            await KernelNfsd("127.0.0.1").stop()
        link = st.get("link")
        if isinstance(link, dict) and not keep_link:
            NetnsLink(**link).destroy()
        if not keep_link and self.state_file.exists():
            self.state_file.unlink()
