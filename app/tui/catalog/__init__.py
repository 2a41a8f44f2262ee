"""The resource catalog: every API object type the TUI lists, with its columns and actions."""

from virga.tui.catalog import admin, compute, infra, network  # noqa: F401  (registration)
from virga.tui.catalog.base import REGISTRY, Action, Choice, Field, Resource, lookup

__all__ = ["REGISTRY", "Action", "Choice", "Field", "Resource", "lookup"]
