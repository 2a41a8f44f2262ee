"""The storagepool response object (primary storage pools)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import select
from virga.api.response import clean
from virga.api.views.common import ref
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.models import Cluster, Pod, StoragePool, Volume, Zone

FIELDS.update(
    {
        "storagepool": "id name zoneid zonename podid podname clusterid clustername type ipaddress path created "
        "disksizetotal disksizeallocated disksizeused state scope tags hypervisor overprovisionfactor provider "
        "storagecapabilities",
    }
)


def _used(ctx: Ctx, p: StoragePool) -> int:
    """Bytes the pool's volumes occupy (the larger of the driver's figure and the volumes' sizes)."""
    total = ctx.db.exec(
        select(func.sum(Volume.physicalsize)).where(Volume.pool_id == p.id, Volume.removed == None)
    ).one()
    return max(p.usedbytes, int(total or 0))


def pool_view(ctx: Ctx, p: StoragePool) -> dict[str, Any]:
    """A storagepool response object."""
    return clean(
        {
            "id": p.uuid,
            "name": p.name,
            **ref(ctx, Zone, p.zone_id, "zone"),
            **ref(ctx, Pod, p.pod_id, "pod"),
            **ref(ctx, Cluster, p.cluster_id, "cluster"),
            "type": p.type,
            "ipaddress": p.ipaddress or None,
            "path": p.path,
            "created": p.created,
            "disksizetotal": p.capacitybytes,
            "disksizeallocated": p.allocatedbytes,
            "disksizeused": _used(ctx, p),
            "state": p.state,
            "scope": p.scope,
            "tags": p.tags or None,
            "hypervisor": p.hypervisor,
            "overprovisionfactor": str(p.overprovisionfactor),
            "provider": "DefaultPrimary",
            "storagecapabilities": {"VOLUME_SNAPSHOT_QUIESCEVM": "false"},
        }
    )


def pool_views(ctx: Ctx, pools: list[StoragePool]) -> list[dict[str, Any]]:
    """Storagepool response objects, their zones, pods and clusters read in one query each."""
    for model, attr in ((Zone, "zone_id"), (Pod, "pod_id"), (Cluster, "cluster_id")):
        ctx.preload(model, {getattr(p, attr) for p in pools})
    return [pool_view(ctx, p) for p in pools]


RENDERERS = {StoragePool: ("storagepool", pool_views)}
