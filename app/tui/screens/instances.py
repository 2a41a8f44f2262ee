"""The instances screen: the live VM table, the deploy form (with a count) and VM actions."""

from __future__ import annotations

import asyncio
from typing import Any

from virga.client import ApiError
from virga.tui.catalog.base import REGISTRY, Action
from virga.tui.screens.resource import ActionScreen, ResourceScreen, label_of, screen_class

CONSOLE = "createConsoleEndpoint"


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

    async def perform(
        self, act: Action, items: list[dict[str, Any]], values: dict[str, Any], errors: list[ApiError] | None
    ) -> None:
        """Deploy runs once per count; other actions once per chosen VM."""
        if act.command == CONSOLE:
            await self.console(items[0])
            return
        if act.command != "deployVirtualMachine":
            await super().perform(act, items, values, errors)
            return
        calls = deploy_calls(values)
        await asyncio.gather(*(self.run_one(act, p, p.get("name", f"#{i + 1}"), errors) for i, p in enumerate(calls)))

    async def console(self, vm: dict[str, Any]) -> None:
        """Attach to the VM's serial console (through the API's console endpoint)."""
        why = await attach_console(self, vm)
        if why:
            self.notify(f"console of {label_of(vm)}: {why}", title="console", timeout=4)


def make_instances_screen(params: dict[str, Any] | None = None, context: str = "") -> InstancesBase:
    """An instances screen with the VM action keys bound."""
    cls = screen_class(REGISTRY["vm"], InstancesBase)
    return cls(params, context)


async def attach_console(screen: ActionScreen, vm: dict[str, Any]) -> str:
    """Suspend the TUI and give the terminal to the VM's serial console until Ctrl-]; why it ended."""
    import os
    import sys

    from textual.app import SuspendNotSupported
    from virga.cli.console import HINT, ConsoleClosed, attach, open_channel

    name = label_of(vm)
    try:
        chan = await open_channel(screen.tui.client, vm["id"])
    except ApiError as err:  # e.g. the hypervisor has no serial console: its errortext
        screen.tui.api_error(err)
        return ""
    except (ConsoleClosed, OSError) as err:
        screen.notify(f"console of {name}: {err}", severity="error", timeout=8)
        return ""
    try:
        with screen.app.suspend():
            os.write(sys.stdout.fileno(), HINT.format(name=name).encode())
            return await attach(chan, sys.stdin.fileno(), sys.stdout.fileno())
    except SuspendNotSupported:
        await chan.close()
        screen.notify(f"the console needs a real terminal: run `virga console {name}`", severity="warning", timeout=8)
        return ""
