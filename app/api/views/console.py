"""The consoleendpoint response object (createConsoleEndpoint)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from virga.api.response import clean
from virga.api.views.fields import FIELDS
from virga.models import VirtualMachine

FIELDS.update({"consoleendpoint": "success details url websocket virtualmachineid kind expires"})


def endpoint_view(vm: VirtualMachine, token: str, path: str, ttl: float) -> dict[str, Any]:
    """A one-time serial console endpoint of a VM: the websocket path and token, and when it expires."""
    return clean(
        {
            "success": True,
            "virtualmachineid": vm.uuid,
            "kind": "serial",
            "expires": datetime.now(UTC) + timedelta(seconds=ttl),
            "details": f"serial console of VM {vm.name}: connect within {int(ttl)} s, once",
            "url": f"{path}?token={token}",
            "websocket": {"token": token, "path": path, "extra": "binary frames carry raw console bytes"},
        }
    )
