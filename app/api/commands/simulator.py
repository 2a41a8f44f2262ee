"""The simulator's own API (configureSimulator, cleanupSimulatorMocks), as CloudStack's simulator has it.

The behaviour language and the world it changes belong to the simulator driver (virga.drivers.simulator.mocks);
this module parses the parameters, finds the simulated hosts a call targets and answers."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from virga.api.registry import ROOT, Param, api
from virga.api.views.simulator import mockconfig_view
from virga.context import Ctx
from virga.drivers.simulator import mocks
from virga.errors import InvalidParameter
from virga.models import Cluster, Host, Pod, Zone


def _hosts(ctx: Ctx) -> tuple[list[Host], bool]:
    """The simulated hosts a configureSimulator call targets, and whether a scope was given."""
    a = ctx.args
    stmt = select(Host).where(Host.removed == None, Host.hypervisor == mocks.HYPERVISOR)
    scoped = False
    for param, model, col in (
        ("zoneid", Zone, Host.zone_id),
        ("podid", Pod, Host.pod_id),
        ("clusterid", Cluster, Host.cluster_id),
        ("hostid", Host, Host.id),
    ):
        if a.get(param):
            row = ctx.get(model, a[param], param)
            stmt, scoped = stmt.where(col == row.id), True
    return list(ctx.db.exec(stmt)), scoped


@api(
    "configureSimulator",
    "Configures the simulator's latency, failures and host power",
    "mockconfig",
    [
        Param(
            "name",
            required=True,
            description="a driver operation (start_instance, create_instance, "
            "prepare_volume, download_template, ...), a CloudStack command name (StartCommand...) or *",
        ),
        Param("value", required=True, description="wait:<ms>, fail, fail:<text>, down or up (comma-separated)"),
        Param("count", "integer", description="how many times the behaviour applies (default: always)"),
        Param("zoneid", "uuid", description="limit to a zone's hosts"),
        Param("podid", "uuid", description="a pod's"),
        Param("clusterid", "uuid", description="a cluster's"),
        Param("hostid", "uuid", description="one host"),
        Param("jsonresponse", description="unused"),
    ],
    roles=ROOT,
)
def configure_simulator(ctx: Ctx) -> dict[str, Any]:
    """Add rules to the simulator world (or mark hosts down/up)."""
    a = ctx.args
    try:
        op = mocks.operation(a.name)
        how = mocks.behaviour(a.value)
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from None
    if a.count is not None and a.count < 1:
        raise InvalidParameter("Parameter count must be 1 or more")
    hosts, scoped = _hosts(ctx)
    if scoped and not hosts:
        raise InvalidParameter("The zoneid/podid/clusterid/hostid given matches no simulator host")
    targets = mocks.configure(op, how, a.count, [h.url for h in hosts], scoped)
    shown = targets if (scoped or op in mocks.STORE_OPS) else None
    return {"mockconfig": mockconfig_view(a, op, shown)}


@api(
    "cleanupSimulatorMocks",
    "Removes every simulator rule and brings every simulated host back up",
    "success",
    [],
    roles=ROOT,
)
def cleanup_simulator(ctx: Ctx) -> dict[str, Any]:
    """Reset the simulator world's injected behaviour."""
    mocks.reset()
    return {"success": True}
