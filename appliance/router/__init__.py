"""Virtual router: one network namespace per isolated guest network (dnsmasq, nftables, haproxy, metadata)."""

from __future__ import annotations

from virga.appliance.router.errors import ApplyError, RouterConfigError, RouterError, RuleConflictError

__all__ = ["ApplyError", "RouterConfigError", "RouterError", "RuleConflictError"]
