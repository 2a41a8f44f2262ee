"""SecurityGroupManager: bridge-family nftables filtering per VM NIC on a shared network bridge.

This kernel has no bridge conntrack (CONFIG_NF_CONNTRACK_BRIDGE), so the rules are stateless
and replies are let through by mirroring every rule (ports become source ports).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from virga.appliance.router import services
from virga.appliance.router.model import SecurityGroupConfig
from virga.appliance.router.names import sg_table
from virga.appliance.router.render import render_security_groups
from virga.appliance.router.validate import validate_security_groups


class SecurityGroupManager:
    """Security groups of the shared bridges of one host (bridges live in host_netns)."""

    def __init__(self, state_dir: str | Path, host_netns: str | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.host_netns = host_netns

    def path(self, short_id: str) -> Path:
        """The rendered ruleset of one shared network."""
        return self.state_dir / f"secgroups-{short_id}.nft"

    async def apply(self, cfg: SecurityGroupConfig) -> bool:
        """Validate, render and load (atomically) a shared network's rules; return whether anything changed."""
        validate_security_groups(cfg)
        return await asyncio.to_thread(self.apply_sync, cfg)

    async def destroy(self, short_id: str) -> bool:
        """Remove a shared network's table and file."""
        return await asyncio.to_thread(self.destroy_sync, short_id)

    def apply_sync(self, cfg: SecurityGroupConfig) -> bool:
        """Blocking apply: `nft -c` then `nft -f`; the file is written only once loaded."""
        validate_security_groups(cfg)
        text = render_security_groups(cfg)
        path = self.path(cfg.short_id)
        live = services.table_exists(self.host_netns, "bridge", sg_table(cfg.short_id))
        if live and path.exists() and path.read_text() == text:
            return False
        services.load_ruleset(self.host_netns, text)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return True

    def destroy_sync(self, short_id: str) -> bool:
        """Blocking destroy."""
        existed = services.table_exists(self.host_netns, "bridge", sg_table(short_id))
        if existed:
            services.procs.run(["nft", "delete", "table", "bridge", sg_table(short_id)], netns=self.host_netns)
        self.path(short_id).unlink(missing_ok=True)
        return existed

    def healthy(self, short_id: str) -> bool:
        """Whether the shared network's table is loaded."""
        return services.table_exists(self.host_netns, "bridge", sg_table(short_id))
