"""The daemons of one router: nftables loading, dnsmasq, haproxy, and the shared metadata hub."""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path

from virga.appliance.router import procs
from virga.appliance.router.errors import ApplyError
from virga.appliance.router.metadata_server import HUB_PID, HUB_STATE
from virga.appliance.router.names import NFT_TABLE
from virga.appliance.router.nsenter import netns_id


def load_ruleset(ns: str | None, text: str) -> None:
    """Load a ruleset in one nft transaction: a bad one is refused whole and the old stays in force."""
    procs.run(["nft", "-f", "-"], netns=ns, stdin=text)


def table_exists(ns: str | None, family: str, table: str) -> bool:
    """Whether an nftables table is loaded."""
    out = procs.run(["nft", "list", "tables", family], netns=ns, check=False)
    return f"table {family} {table}" in out


def nft_live(ns: str) -> bool:
    """Whether the router's table is loaded."""
    return table_exists(ns, "ip", NFT_TABLE)


def dnsmasq_up(rdir: Path) -> bool:
    """Whether the router's dnsmasq runs."""
    return procs.alive(rdir / "dnsmasq.pid", str(rdir / "dnsmasq.conf"))


def start_dnsmasq(rdir: Path, ns: str) -> None:
    """(Re)start dnsmasq in the router namespace."""
    procs.stop(rdir / "dnsmasq.pid", "dnsmasq")
    conf = str(rdir / "dnsmasq.conf")
    procs.start_daemon(["dnsmasq", f"--conf-file={conf}"], rdir / "dnsmasq.pid", ns, conf)


def reload_dnsmasq(rdir: Path) -> None:
    """SIGHUP dnsmasq so it rereads dhcp-hosts and hosts."""
    procs.signal_daemon(rdir / "dnsmasq.pid", signal.SIGHUP, "dnsmasq")


def haproxy_up(rdir: Path) -> bool:
    """Whether the router's haproxy runs."""
    return procs.alive(rdir / "haproxy.pid", str(rdir / "haproxy.cfg"))


def start_haproxy(rdir: Path, ns: str, reload: bool = False) -> None:
    """Start haproxy, or reload it live (-sf: the new process takes over, the old one finishes)."""
    cfg, pidfile = str(rdir / "haproxy.cfg"), rdir / "haproxy.pid"
    procs.run(["haproxy", "-c", "-q", "-f", cfg], netns=ns)
    argv = ["haproxy", "-D", "-f", cfg, "-p", str(pidfile)]
    old = procs.read_pid(pidfile) if reload else None
    if old and procs.pid_alive(old, cfg):
        argv += ["-sf", str(old)]
    else:
        procs.stop(pidfile, cfg)
    procs.run(argv, netns=ns)
    procs.wait_pidfile(pidfile, cfg, 5.0)


def stop_haproxy(rdir: Path) -> bool:
    """Stop haproxy if it runs."""
    return procs.stop(rdir / "haproxy.pid", str(rdir / "haproxy.cfg"))


class MetadataHub:
    """The one metadata/password process serving every router of a state dir."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.pidfile = state_dir / HUB_PID
        self.marker = f"metadata_server {state_dir}"

    def up(self) -> bool:
        """Whether the hub runs."""
        return procs.alive(self.pidfile, self.marker)

    def ensure(self) -> bool:
        """Start the hub if it is not running; return whether it was started."""
        if self.up():
            return False
        argv = [sys.executable, "-m", "virga.appliance.router.metadata_server", str(self.state_dir)]
        procs.spawn(argv, self.pidfile, self.state_dir / "metadata-hub.log", self.marker)
        return True

    def served(self) -> dict[str, dict[str, object]]:
        """What the hub acknowledged serving: uuid -> {digest, ns_id}."""
        try:
            return json.loads((self.state_dir / HUB_STATE).read_text())
        except (OSError, ValueError):
            return {}

    def serves(self, uuid: str, digest: str | None, ns: str) -> bool:
        """Whether the hub serves this router's current metadata in its current namespace."""
        entry = self.served().get(uuid)
        if not entry or not self.up():
            return False
        return entry.get("ns_id") == netns_id(ns) and (digest is None or entry.get("digest") == digest)

    def sync(self, uuid: str | None, digest: str | None, ns: str | None, wait_s: float = 5.0) -> None:
        """Make the hub rescan and wait until it serves (or stopped serving) one router."""
        self.ensure()
        procs.signal_daemon(self.pidfile, signal.SIGHUP, self.marker)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if uuid is None or (ns is None and uuid not in self.served()):
                return
            if ns is not None and self.serves(uuid, digest, ns):
                return
            time.sleep(0.01)
        raise ApplyError(f"metadata service did not pick up router {uuid} (see {self.state_dir}/metadata-hub.log)")

    def stop(self) -> bool:
        """Stop the hub."""
        return procs.stop(self.pidfile, self.marker)
