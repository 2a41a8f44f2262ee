"""The zone, pod and cluster response objects."""

from __future__ import annotations

from typing import Any

from virga.api.response import clean
from virga.api.views.common import ref
from virga.context import Ctx
from virga.models import Cluster, Pod, Zone


def zone_view(ctx: Ctx, z: Zone) -> dict[str, Any]:
    """A zone response object."""
    full = ctx.role != "User"
    return clean(
        {
            "id": z.uuid,
            "name": z.name,
            "description": z.description,
            "networktype": z.networktype,
            "dns1": z.dns1 or None,
            "dns2": z.dns2 or None,
            "internaldns1": z.internaldns1 if full else None,
            "internaldns2": (z.internaldns2 or None) if full else None,
            "guestcidraddress": z.guestcidraddress,
            "domain": z.domain,
            "allocationstate": z.allocationstate,
            "securitygroupsenabled": z.securitygroupsenabled,
            "localstorageenabled": z.localstorageenabled,
            "zonetoken": z.uuid[:8],
            "dhcpprovider": "VirtualRouter",
            "tags": [],
            "hasannotations": False,
        }
    )


def pod_view(ctx: Ctx, p: Pod) -> dict[str, Any]:
    """A pod response object."""
    return clean(
        {
            "id": p.uuid,
            "name": p.name,
            **ref(ctx, Zone, p.zone_id, "zone"),
            "gateway": p.gateway,
            "netmask": p.netmask,
            "startip": [p.startip],
            "endip": [p.endip],
            "allocationstate": p.allocationstate,
            "ipranges": [{"startip": p.startip, "endip": p.endip, "forsystemvms": "0", "vlanid": ""}],
        }
    )


def cluster_view(ctx: Ctx, c: Cluster) -> dict[str, Any]:
    """A cluster response object."""
    return clean(
        {
            "id": c.uuid,
            "name": c.name,
            **ref(ctx, Zone, c.zone_id, "zone"),
            **ref(ctx, Pod, c.pod_id, "pod"),
            "hypervisortype": c.hypervisor,
            "clustertype": c.clustertype,
            "allocationstate": c.allocationstate,
            "managedstate": c.managedstate,
            "cpuovercommitratio": str(c.cpuovercommitratio or 1.0),
            "memoryovercommitratio": str(c.memoryovercommitratio or 1.0),
        }
    )


def zone_views(ctx: Ctx, rows: list[Zone]) -> list[dict[str, Any]]:
    """Zone response objects."""
    return [zone_view(ctx, z) for z in rows]


def pod_views(ctx: Ctx, rows: list[Pod]) -> list[dict[str, Any]]:
    """Pod response objects (their zones read in one query)."""
    ctx.preload(Zone, {p.zone_id for p in rows})
    return [pod_view(ctx, p) for p in rows]


def cluster_views(ctx: Ctx, rows: list[Cluster]) -> list[dict[str, Any]]:
    """Cluster response objects (their zones and pods read in one query each)."""
    ctx.preload(Zone, {c.zone_id for c in rows})
    ctx.preload(Pod, {c.pod_id for c in rows})
    return [cluster_view(ctx, c) for c in rows]


RENDERERS = {Zone: ("zone", zone_views), Pod: ("pod", pod_views), Cluster: ("cluster", cluster_views)}
