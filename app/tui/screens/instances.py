"""The instances screen: the live VM table, the deploy form (with a count) and VM actions."""

from __future__ import annotations

import asyncio
from typing import Any

from virga.tui.catalog.base import REGISTRY, Action
from virga.tui.screens.resource import ResourceScreen, screen_class


def deploy_calls(values: dict[str, Any]) -> list[dict[str, Any]]:
    """One deployVirtualMachine parameter set per VM asked for (names get -1, -2... when count > 1)."""
    values = dict(values)
    count = int(values.pop("count", "1") or 1)
    name = values.pop("name", "")
    calls = []
    for n in range(1, count + 1):
        params = dict(values)
        if name:
            params["name"] = name if count == 1 else f"{name}-{n}"
        calls.append(params)
    return calls


class InstancesBase(ResourceScreen):
    """VMs: deploy N at once; everything else is the catalog's VM actions."""

    NAME = "vm"

    def __init__(self, params: dict[str, Any] | None = None, context: str = "") -> None:
        """Show the VMs (optionally of one host/network/account)."""
        super().__init__(REGISTRY["vm"], params, context)

    async def perform(self, act: Action, items: list[dict[str, Any]], values: dict[str, Any]) -> None:
        """Deploy runs once per count; other actions once per chosen VM."""
        if act.command != "deployVirtualMachine":
            await super().perform(act, items, values)
            return
        calls = deploy_calls(values)
        await asyncio.gather(*(self.run_one(act, p, p.get("name", f"#{i + 1}")) for i, p in enumerate(calls)))


def make_instances_screen(params: dict[str, Any] | None = None, context: str = "") -> InstancesBase:
    """An instances screen with the VM action keys bound."""
    cls = screen_class(REGISTRY["vm"], InstancesBase)
    return cls(params, context)  # type: ignore[call-arg]
