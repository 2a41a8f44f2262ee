"""A network namespace joined to the host by a veth pair: an isolated address for a private NFS server."""

from __future__ import annotations

import random
import secrets
import subprocess
from dataclasses import dataclass


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `ip` with arguments."""
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


@dataclass
class NetnsLink:
    """Namespace name, host-side veth name and the /30 addresses (host side, namespace side)."""

    name: str
    host_if: str
    host_addr: str
    ns_addr: str

    @classmethod
    def create(cls, prefix: str = "vgs") -> NetnsLink:
        """Make a namespace with a veth pair on a free 10.213.x.y/30 (names start with prefix, 3 letters)."""
        tag = secrets.token_hex(3)
        used = _ip("-4", "-o", "addr").stdout
        for _ in range(50):
            third, fourth = random.randrange(256), random.randrange(0, 256, 4)
            net = f"10.213.{third}."
            if f"{net}{fourth + 1}/" not in used and f"{net}{fourth + 2}/" not in used:
                break
        link = cls(f"{prefix}-{tag}", f"{prefix}{tag}h", f"{net}{fourth + 1}", f"{net}{fourth + 2}")
        link.ensure()
        return link

    @property
    def ns_if(self) -> str:
        """The namespace-side veth's name."""
        return self.host_if[:-1] + "n"

    def exists(self) -> bool:
        """Whether the namespace and the host leg are both there."""
        names = _ip("netns", "list").stdout.split()
        return self.name in names and _ip("link", "show", self.host_if, check=False).returncode == 0

    def ensure(self) -> None:
        """(Re)create the namespace, veth pair and addresses; on failure remove what was made."""
        if self.exists():
            return
        self.destroy()
        try:
            self._setup()
        except BaseException:
            self.destroy()
            raise

    def _setup(self) -> None:
        """Create the namespace, the veth pair and the addresses."""
        _ip("netns", "add", self.name)
        _ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
        _ip("link", "set", self.ns_if, "netns", self.name)
        _ip("addr", "add", f"{self.host_addr}/30", "dev", self.host_if)
        _ip("link", "set", self.host_if, "up")
        _ip("-n", self.name, "addr", "add", f"{self.ns_addr}/30", "dev", self.ns_if)
        _ip("-n", self.name, "link", "set", self.ns_if, "up")
        _ip("-n", self.name, "link", "set", "lo", "up")

    def destroy(self) -> None:
        """Remove the veth pair and the namespace (idempotent)."""
        _ip("link", "del", self.host_if, check=False)
        _ip("netns", "del", self.name, check=False)
