"""The host response object (hosts with their capacity as CloudStack's HostResponse)."""

from __future__ import annotations

from typing import Any

from virga.api.response import clean
from virga.api.views.common import ref
from virga.context import Ctx
from virga.models import Cluster, Host, Pod, Zone
from virga.services.capacity import overcommit


def host_view(ctx: Ctx, h: Host) -> dict[str, Any]:
    """A host response object."""
    cluster = ctx.by_id(Cluster, h.cluster_id)
    cpu_f, mem_f = ctx.memo(("overcommit", h.cluster_id), lambda: overcommit(ctx.db, cluster))
    cpu_total = h.cpunumber * h.cpuspeed
    return clean(
        {
            "id": h.uuid,
            "name": h.name,
            "state": h.state,
            "resourcestate": h.resourcestate,
            "type": h.type,
            "ipaddress": h.ipaddress,
            **ref(ctx, Zone, h.zone_id, "zone"),
            **ref(ctx, Pod, h.pod_id, "pod"),
            **ref(ctx, Cluster, h.cluster_id, "cluster"),
            "clustertype": cluster.clustertype if cluster else None,
            "hypervisor": h.hypervisor,
            "hypervisorversion": h.hypervisorversion,
            "cpunumber": h.cpunumber,
            "cpuspeed": h.cpuspeed,
            "cpusockets": 1,
            "cpuallocated": _pct(h.cpuallocated, cpu_total * cpu_f),
            "cpuallocatedvalue": h.cpuallocated,
            "cpuallocatedpercentage": _pct(h.cpuallocated, cpu_total * cpu_f),
            "cpuwithoverprovisioning": str(cpu_total * cpu_f),
            "memorytotal": h.memorytotal,
            "memorywithoverprovisioning": str(int(h.memorytotal * mem_f)),
            "memoryallocated": h.memoryallocated,
            "memoryallocatedpercentage": _pct(h.memoryallocated, h.memorytotal * mem_f),
            "hosttags": h.hosttags or None,
            "capabilities": h.capabilities,
            "created": h.created,
            "lastpinged": h.lastpinged,
            "disconnected": h.disconnected,
            "version": "0.1.0",
            "cpumodel": h.cpumodel or None,
            "accelerator": h.accelerator or None,
            "islocalstorageactive": False,
            "haenable": True,
        }
    )


def _pct(used: float, total: float) -> str:
    """A percentage string like 12.5%."""
    return f"{(100.0 * used / total) if total else 0.0:.2f}%"


def host_views(ctx: Ctx, hosts: list[Host]) -> list[dict[str, Any]]:
    """Host response objects, their zones, pods and clusters read in one query each."""
    for model, attr in ((Zone, "zone_id"), (Pod, "pod_id"), (Cluster, "cluster_id")):
        ctx.preload(model, {getattr(h, attr) for h in hosts})
    return [host_view(ctx, h) for h in hosts]


RENDERERS = {Host: ("host", host_views)}
