"""The volume response object."""

from __future__ import annotations

from typing import Any

from virga.api.response import clean
from virga.api.views.common import owner, ref, tags_of
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.models import AsyncJob, DiskOffering, StoragePool, Template, VirtualMachine, Volume, Zone
from virga.services.states import VolumeState

FIELDS["volume"] = (
    "id name zoneid zonename type deviceid virtualmachineid vmname vmdisplayname vmstate size physicalsize "
    "created attached state storagetype provisioningtype hypervisor diskofferingid diskofferingname "
    "diskofferingdisplaytext storage storageid path templateid templatename isextractable displayvolume "
    "destroyed tags jobid jobstatus account domainid domain domainpath"
)


def volume_view(ctx: Ctx, v: Volume, jobs: dict[str, AsyncJob] | None = None) -> dict[str, Any]:
    """A volume response object."""
    vm = ctx.by_id(VirtualMachine, v.vm_id)
    off = ctx.by_id(DiskOffering, v.diskoffering_id)
    pool = ctx.by_id(StoragePool, v.pool_id)
    admin = ctx.role != "User"
    out: dict[str, Any] = {
        "id": v.uuid,
        "name": v.name,
        **ref(ctx, Zone, v.zone_id, "zone"),
        "type": v.type,
        "deviceid": v.deviceid,
        "size": v.size,
        "physicalsize": v.physicalsize or None,
        "created": v.created,
        "attached": v.attached,
        "state": v.state,
        **owner(ctx, v),
        "storagetype": off.storagetype if off else "shared",
        "provisioningtype": off.provisioningtype if off else "thin",
        "destroyed": v.state in (VolumeState.DESTROY, VolumeState.EXPUNGED),
        "isextractable": True,
        "displayvolume": True,
        "tags": tags_of(ctx, "Volume", [v]).get(v.id or 0, []),
        "hypervisor": (vm.hypervisor if vm else None) or "None",
    }
    if vm is not None:
        out.update(virtualmachineid=vm.uuid, vmname=vm.name, vmdisplayname=vm.displayname or vm.name, vmstate=vm.state)
    if off is not None:
        out.update(diskofferingid=off.uuid, diskofferingname=off.name, diskofferingdisplaytext=off.displaytext)
    if pool is not None:
        out["storage"] = pool.name
        if admin:
            out["storageid"] = pool.uuid
    if admin and v.path:
        out["path"] = v.path
    if v.template_id:
        out.update(ref(ctx, Template, v.template_id, "template"))
    job = (jobs or {}).get(v.uuid)
    if job is not None:
        out.update(jobid=job.uuid, jobstatus=0)
    return clean(out)


def volume_views(ctx: Ctx, rows: list[Volume]) -> list[dict[str, Any]]:
    """Volume response objects of job results."""
    return [volume_view(ctx, v) for v in rows]


RENDERERS = {Volume: ("volume", volume_views)}
