"""The capacity response object (listCapacity)."""

from __future__ import annotations

from typing import Any

from virga.api.response import clean
from virga.api.views.common import ref
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.models import Cluster, Pod, Zone

MEMORY, CPU, STORAGE, STORAGE_ALLOCATED, PUBLIC_IP, SECONDARY = 0, 1, 2, 3, 4, 6
NAMES = {
    MEMORY: "MEMORY",
    CPU: "CPU",
    STORAGE: "STORAGE",
    STORAGE_ALLOCATED: "STORAGE_ALLOCATED",
    PUBLIC_IP: "VIRTUAL_NETWORK_PUBLIC_IP",
    SECONDARY: "SECONDARY_STORAGE",
}
FIELDS.update(
    {
        "capacity": "type name zoneid zonename podid podname clusterid clustername capacitytotal capacityused "
        "capacityallocated percentused",
    }
)
Key = tuple[int | None, int | None, int | None]


def capacity_view(ctx: Ctx, kind: int, key: Key, total: float, used: float) -> dict[str, Any]:
    """One capacity response object: a type's total and use at a (zone, pod, cluster) key."""
    zone_id, pod_id, cluster_id = key
    return clean(
        {
            "type": kind,
            "name": NAMES[kind],
            **ref(ctx, Zone, zone_id, "zone"),
            **ref(ctx, Pod, pod_id, "pod"),
            **ref(ctx, Cluster, cluster_id, "cluster"),
            "capacitytotal": int(total),
            "capacityused": int(used),
            "capacityallocated": int(used),
            "percentused": f"{(100.0 * used / total) if total else 0.0:.2f}",
        }
    )
