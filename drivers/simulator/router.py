"""The router backend of simulator zones (zone detail router=simulated, the default)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from virga.core import VirgaApp

SIMULATED = "simulated"


class SimulatedRouters:
    """Routers whose state is recorded and nothing is applied on a host."""

    healthy_values = (SIMULATED,)

    async def sync(self, app: VirgaApp, network_id: int) -> dict[str, Any]:
        """Report every service working: there is no process to check."""
        return {"dhcp": SIMULATED, "dns": SIMULATED, "firewall": SIMULATED, "lb": SIMULATED}

    async def destroy(self, app: VirgaApp, network_id: int) -> None:
        """Nothing to remove."""
