"""Typed errors raised by the virtual router layer."""

from __future__ import annotations


class RouterError(Exception):
    """Base class of every virtual-router failure."""


class RouterConfigError(RouterError):
    """A router or security-group config is malformed (bad CIDR, port, protocol...)."""


class RuleConflictError(RouterConfigError):
    """Two rules claim the same public IP/protocol/port (CloudStack error 537)."""


class ApplyError(RouterError):
    """Applying a rendered config to the host failed (nft, dnsmasq, haproxy, netlink)."""


class NotFinished(RouterError):
    """A feature that is declared but not implemented yet on this host."""
