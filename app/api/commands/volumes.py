"""Volume commands: create (lazily allocated), list, attach, detach, resize, migrate and delete."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from virga.api.registry import ROOT, Param, api
from virga.api.response import list_body
from virga.api.views.common import preload_owners
from virga.api.views.volumes import volume_view
from virga.context import Ctx
from virga.errors import InUse, InvalidParameter
from virga.jobs.pending import Pending
from virga.models import (
    AsyncJob,
    DiskOffering,
    Host,
    Snapshot,
    StoragePool,
    VirtualMachine,
    Volume,
    Zone,
)
from virga.services import limits
from virga.services import volumes as svc
from virga.services.states import VmState, VolumeState

GB = 2**30
VOL_ID = [Param("id", "uuid", required=True, description="the ID of the volume")]


def _vol(ctx: Ctx, param: str = "id") -> Volume:
    """The volume named by a parameter, which the caller may change."""
    vol = ctx.get(Volume, ctx.args.get(param), param)
    ctx.require(vol, f"volume {vol.name}")
    return vol


def _size_of(ctx: Ctx, off: DiskOffering | None) -> int:
    """Bytes of a new volume: the offering's size, or size (GB) for custom offerings."""
    size = ctx.args.size
    if off is not None and not off.iscustomized:
        if size is not None and size != off.disksize:
            raise InvalidParameter(
                f"Parameter size may only be given with a custom disk offering ({off.name} "
                f"has a fixed size of {off.disksize} GB)"
            )
        return off.disksize * GB
    if size is None:
        raise InvalidParameter("Parameter size is required with a custom disk offering")
    if size < 1 or size > 1024:
        raise InvalidParameter("Parameter size must be between 1 and 1024 (GB)")
    return int(size) * GB


def _attachable(ctx: Ctx, vol: Volume, vm: VirtualMachine) -> None:
    """Refuse attaching a volume that is not a free data disk or to a VM in the wrong state or place."""
    ctx.require(vm, f"VM {vm.name}")
    if vm.account_id != vol.account_id:
        raise InvalidParameter(f"Volume {vol.name} and VM {vm.name} belong to different accounts")
    if vm.state not in (VmState.RUNNING, VmState.STOPPED):
        raise InvalidParameter(
            f"Unable to attach volume {vol.name}: VM {vm.name} is {vm.state} (it must be Running or Stopped)"
        )
    if vm.zone_id != vol.zone_id:
        raise InvalidParameter(f"Volume {vol.name} and VM {vm.name} are in different zones")
    if vol.type != "DATADISK":
        raise InvalidParameter(f"Volume {vol.name} is a {vol.type} volume; only data disks can be attached")
    if vol.vm_id is not None:
        raise InUse(f"Volume {vol.name} is already attached to a VM")
    if vol.state not in (VolumeState.ALLOCATED, VolumeState.READY, VolumeState.UPLOADED):
        raise InvalidParameter(f"Volume {vol.name} is {vol.state}; it must be Allocated, Ready or Uploaded")


@api(
    "createVolume",
    "Creates a disk volume from a disk offering or a snapshot",
    "volume",
    [
        Param("name", description="the name of the volume"),
        Param("zoneid", "uuid", description="the zone"),
        Param("diskofferingid", "uuid", description="the disk offering"),
        Param("size", "long", description="size in GB, for custom disk offerings"),
        Param("snapshotid", "uuid", description="create the volume from this snapshot"),
        Param("virtualmachineid", "uuid", description="attach the new volume to this VM at once"),
        Param("account", description="the owner account (admins)"),
        Param("domainid", "uuid", description="its domain"),
        Param("displayvolume", "boolean", description="show to the end user"),
        Param("miniops", "long", description="unused"),
        Param("maxiops", "long", description="unused"),
    ],
    is_async=True,
)
def create_volume(ctx: Ctx) -> Pending:
    """Validate, check limits and record the volume as Allocated; the job makes it (lazily)."""
    a = ctx.args
    account, domain = ctx.owner()
    snap = ctx.opt(Snapshot, "snapshotid")
    vm = ctx.opt(VirtualMachine, "virtualmachineid")
    if snap is None and not a.diskofferingid:
        raise InvalidParameter("Parameter diskofferingid or snapshotid is required")
    off = ctx.opt(DiskOffering, "diskofferingid")
    if snap is not None:
        ctx.require(snap, f"snapshot {snap.name}")
        if snap.state != "BackedUp":
            raise InvalidParameter(f"Snapshot {snap.name} is {snap.state}; it must be BackedUp")
        src = ctx.by_id(Volume, snap.volume_id)
        zone = ctx.by_id(Zone, snap.zone_id)
        size = max(snap.size, src.size if src else 0)
        off = off or (ctx.by_id(DiskOffering, src.diskoffering_id) if src else None)
    else:
        zone = ctx.get(Zone, a.zoneid, "zoneid") if a.zoneid else (ctx.by_id(Zone, vm.zone_id) if vm else None)
        if zone is None:
            raise InvalidParameter("Parameter zoneid is required")
        size = _size_of(ctx, off)
    assert zone is not None
    limits.check(ctx.db, account, 2, 1)
    limits.check(ctx.db, account, 10, -(-size // GB))
    vol = Volume(
        name=a.name or "",
        type="DATADISK",
        zone_id=zone.id or 0,
        size=size,
        diskoffering_id=off.id if off else None,
        account_id=account.id or 0,
        domain_id=domain.id or 0,
    )
    if vm is not None:
        _attachable(ctx, vol, vm)
    return svc.record(ctx, vol, snap, vm)


@api(
    "listVolumes",
    "Lists volumes",
    "volume",
    [
        Param("id", "uuid", description="the volume"),
        Param("ids", "uuidlist", description="several volumes"),
        Param("name", description="the name"),
        Param("type", description="ROOT or DATADISK"),
        Param("virtualmachineid", "uuid", description="volumes of a VM"),
        Param("zoneid", "uuid", description="zone"),
        Param("state", description="the state"),
        Param("storageid", "uuid", description="the pool (admin)"),
        Param("hostid", "uuid", description="volumes of VMs on a host (admin)"),
        Param("diskofferingid", "uuid", description="the disk offering"),
        Param("podid", "uuid", description="unused"),
        Param("account", description="the account"),
        Param("domainid", "uuid", description="the domain"),
        Param("isrecursive", "boolean", description="subdomains"),
        Param("tags", "map", description="tags"),
        Param("displayvolume", "boolean", description="unused"),
    ],
    paged=True,
)
def list_volumes(ctx: Ctx) -> dict[str, Any]:
    """List the volumes the caller may see."""
    a = ctx.args
    stmt = ctx.scope(select(Volume), Volume)
    if a.type:
        stmt = stmt.where(Volume.type == a.type.upper())
    if a.state:
        stmt = stmt.where(Volume.state == a.state)
    model: type[Any]  # the filters' and then the preloads' models
    for param, model, column in (
        ("zoneid", Zone, Volume.zone_id),
        ("virtualmachineid", VirtualMachine, Volume.vm_id),
        ("diskofferingid", DiskOffering, Volume.diskoffering_id),
    ):
        if a.get(param):
            stmt = stmt.where(column == ctx.get(model, a[param], param).id)
    if a.storageid or a.hostid:
        if ctx.role == "User":
            raise InvalidParameter("Parameters storageid and hostid are for administrators")
        if a.storageid:
            stmt = stmt.where(Volume.pool_id == ctx.get(StoragePool, a.storageid, "storageid").id)
        if a.hostid:
            host = ctx.get(Host, a.hostid, "hostid")
            stmt = stmt.where(col(Volume.vm_id).in_(select(VirtualMachine.id).where(VirtualMachine.host_id == host.id)))
    rows, count = ctx.page(stmt, Volume, resourcetype="Volume")
    preload_owners(ctx, rows)
    for model, attr in (
        (Zone, "zone_id"),
        (VirtualMachine, "vm_id"),
        (DiskOffering, "diskoffering_id"),
        (StoragePool, "pool_id"),
    ):
        ctx.preload(model, {getattr(v, attr) for v in rows})
    jobs = {
        j.instance_uuid: j
        for j in ctx.db.exec(
            select(AsyncJob).where(
                col(AsyncJob.instance_uuid).in_([v.uuid for v in rows]), col(AsyncJob.state).in_(("queued", "running"))
            )
        )
    }
    return list_body("volume", [volume_view(ctx, v, jobs) for v in rows], count)


@api(
    "attachVolume",
    "Attaches a disk volume to a virtual machine",
    "volume",
    VOL_ID
    + [
        Param("virtualmachineid", "uuid", required=True, description="the VM"),
        Param("deviceid", "long", description="the device id (1-15, not 3)"),
    ],
    is_async=True,
)
def attach_volume(ctx: Ctx) -> Pending:
    """Check the volume and VM and queue the attach (hot-plug when the VM runs)."""
    vol = _vol(ctx)
    vm = ctx.get(VirtualMachine, ctx.args.virtualmachineid, "virtualmachineid")
    _attachable(ctx, vol, vm)
    dev = ctx.args.deviceid
    if dev is not None:
        if dev < 1 or dev > svc.MAX_DEVICE or dev == svc.RESERVED_DEVICE:
            raise InvalidParameter(f"Parameter deviceid must be 1-{svc.MAX_DEVICE} and not {svc.RESERVED_DEVICE}")
        taken = ctx.db.exec(
            select(Volume).where(Volume.vm_id == vm.id, Volume.deviceid == dev, Volume.removed == None)
        ).first()
        if taken is not None:
            raise InUse(f"Device id {dev} of VM {vm.name} is used by volume {taken.name}")
    return Pending("Volume", vol.uuid, {"virtualmachineid": vm.uuid, "deviceid": dev})


@api(
    "detachVolume",
    "Detaches a disk volume from a virtual machine",
    "volume",
    [
        Param("id", "uuid", description="the volume"),
        Param("virtualmachineid", "uuid", description="the VM"),
        Param("deviceid", "long", description="the device id, with virtualmachineid"),
    ],
    is_async=True,
)
def detach_volume(ctx: Ctx) -> Pending:
    """Check the volume is an attached data disk of a Running or Stopped VM and queue the detach."""
    a = ctx.args
    vm: VirtualMachine | None
    if a.id:
        vol = _vol(ctx)
    elif a.virtualmachineid and a.deviceid is not None:
        vm = ctx.get(VirtualMachine, a.virtualmachineid, "virtualmachineid")
        found = ctx.db.exec(
            select(Volume).where(Volume.vm_id == vm.id, Volume.deviceid == a.deviceid, Volume.removed == None)
        ).first()
        if found is None:
            raise InvalidParameter(f"VM {vm.name} has no volume with device id {a.deviceid} (parameter deviceid)")
        vol = found
        ctx.require(vol, f"volume {vol.name}")
    else:
        raise InvalidParameter("Parameter id (or virtualmachineid with deviceid) is required")
    if vol.type == "ROOT":
        raise InvalidParameter(f"Volume {vol.name} is a ROOT volume; it cannot be detached")
    vm = ctx.by_id(VirtualMachine, vol.vm_id)
    if vm is None:
        raise InvalidParameter(f"Volume {vol.name} is not attached to any VM")
    if vm.state not in (VmState.RUNNING, VmState.STOPPED, VmState.DESTROYED):
        raise InvalidParameter(f"Unable to detach volume {vol.name}: VM {vm.name} is {vm.state}")
    return Pending("Volume", vol.uuid)


@api(
    "resizeVolume",
    "Grows a volume",
    "volume",
    VOL_ID
    + [
        Param("size", "long", description="the new size in GB"),
        Param("diskofferingid", "uuid", description="a new (larger) disk offering"),
        Param("shrinkok", "boolean", description="must be false: volumes only grow"),
        Param("miniops", "long", description="unused"),
        Param("maxiops", "long", description="unused"),
    ],
    is_async=True,
)
def resize_volume(ctx: Ctx) -> Pending:
    """Validate the new size (grow only), check the primary storage limit and queue the resize."""
    vol = _vol(ctx)
    a = ctx.args
    off = ctx.opt(DiskOffering, "diskofferingid")
    if a.shrinkok:
        raise InvalidParameter("Parameter shrinkok: shrinking volumes is not supported")
    if off is not None and not off.iscustomized:
        new = off.disksize * GB
    elif a.size is not None:
        if a.size < 1:
            raise InvalidParameter("Parameter size must be a positive number of GB")
        new = int(a.size) * GB
    else:
        raise InvalidParameter("Parameter size (or a fixed-size diskofferingid) is required")
    if new <= vol.size:
        raise InvalidParameter(f"Parameter size: volume {vol.name} is {vol.size // GB} GB; it can only grow")
    if vol.state not in (VolumeState.READY, VolumeState.ALLOCATED):
        raise InvalidParameter(f"Unable to resize volume {vol.name}: it is in state {vol.state}")
    account = ctx.by_id(type(ctx.account), vol.account_id) or ctx.account
    limits.check(ctx.db, account, 10, (new - vol.size) // GB)
    return svc.queue_resize(ctx, vol, new, off)


@api(
    "migrateVolume",
    "Moves a volume to another primary storage pool",
    "volume",
    [
        Param("volumeid", "uuid", required=True, description="the volume"),
        Param("storageid", "uuid", required=True, description="the destination pool"),
        Param("livemigrate", "boolean", description="unused: the volume must not be in use by a running VM"),
    ],
    roles=ROOT,
    is_async=True,
)
def migrate_volume(ctx: Ctx) -> Pending:
    """Check the target pool and queue the move."""
    vol = _vol(ctx, "volumeid")
    dst = ctx.get(StoragePool, ctx.args.storageid, "storageid")
    if vol.pool_id is None:
        raise InvalidParameter(f"Volume {vol.name} is not created on any pool yet (state {vol.state})")
    if dst.id == vol.pool_id:
        raise InvalidParameter(f"Volume {vol.name} is already on storage pool {dst.name}")
    if dst.zone_id != vol.zone_id or dst.state != "Up":
        raise InvalidParameter(f"Storage pool {dst.name} is not an Up pool of the volume's zone")
    vm = ctx.by_id(VirtualMachine, vol.vm_id)
    if vm is not None and vm.state != VmState.STOPPED:
        raise InvalidParameter(f"VM {vm.name} must be stopped to migrate its volume {vol.name}")
    return svc.queue_migrate(ctx, vol, dst)


@api("deleteVolume", "Deletes a detached volume", "success", VOL_ID)
async def delete_volume(ctx: Ctx) -> dict[str, Any]:
    """Delete a detached data volume's disk and record; attached volumes are refused (536)."""
    vol = _vol(ctx)
    if vol.vm_id is not None:
        vm = ctx.by_id(VirtualMachine, vol.vm_id)
        raise InUse(
            f"Unable to delete volume {vol.name}: it is attached to VM {vm.name if vm else vol.vm_id}; detach it first"
        )
    if vol.type == "ROOT":
        raise InvalidParameter(f"Volume {vol.name} is a ROOT volume; destroy its VM instead")
    busy = ctx.db.exec(
        select(AsyncJob).where(col(AsyncJob.instance_uuid) == vol.uuid, col(AsyncJob.state).in_(("queued", "running")))
    ).first()
    if busy is not None:
        raise InUse(f"Volume {vol.name} has a job in progress ({busy.command})")
    await svc.delete_volume(ctx, vol)
    return {"success": True}
