"""Names of the namespaces, links and files of one router, derived from its short id."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

GUEST_IF = "guest0"
PUBLIC_IF = "public0"
NFT_TABLE = "virga"


@dataclass(frozen=True)
class RouterNames:
    """Every kernel-visible name a router uses; all derived from the network's short id."""

    short_id: str

    @property
    def netns(self) -> str:
        """The router's network namespace."""
        return f"vr-{self.short_id}"

    @property
    def guest_veth(self) -> str:
        """Host-side leg of the guest veth (enslaved to the guest bridge)."""
        return f"vrg{self.short_id}"

    @property
    def public_veth(self) -> str:
        """Host-side leg of the public veth (enslaved to the public bridge)."""
        return f"vrp{self.short_id}"

    @property
    def vxlan(self) -> str:
        """The VXLAN link attached to the guest bridge."""
        return f"vx{self.short_id}"

    def mac(self, leg: str) -> str:
        """A fixed, locally administered MAC for one veth end (e.g. "guest", "guest-host"), so a router
        rebuilt from the database answers ARP with the same address and guests' caches stay valid."""
        digest = hashlib.sha256(f"{self.short_id}/{leg}".encode()).digest()[:4]
        return "02:76:" + ":".join(f"{b:02x}" for b in digest)

    def vlan(self, vlan_id: int) -> str:
        """The 802.1Q link attached to the guest bridge."""
        return f"vl{self.short_id}.{vlan_id}"[:15]


def sg_table(short_id: str) -> str:
    """The bridge-family nftables table of a shared network's security groups."""
    return f"virga_sg_{short_id}"
