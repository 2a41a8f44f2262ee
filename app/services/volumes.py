"""Volume workflows inside jobs: lazy creation, attach, detach, resize and migrate."""

from __future__ import annotations

from dataclasses import replace

from sqlmodel import Session, col, select
from virga.context import Ctx
from virga.drivers.base import Capability, InstanceNotFound, NotSupported, TemplateSpec, VolumeSpec
from virga.errors import InvalidParameter, Unavailable
from virga.jobs.engine import JobRun, Ref, Restart, job_body, job_recover
from virga.jobs.pending import Pending
from virga.models import DiskOffering, Host, Snapshot, SnapshotPolicy, StoragePool, VirtualMachine, Volume, utcnow
from virga.services import snapshotbackups
from virga.services.capacity import allocate_pool, release_pool
from virga.services.events import record_event
from virga.services.placement import choose_pool
from virga.services.specs import pool_spec, volume_spec
from virga.services.states import HostState, VmState, VolumeState, can, transition

RESERVED_DEVICE = 3  # CloudStack keeps device 3 for the CD-ROM
MAX_DEVICE = 15


def vol_by_uuid(s: Session, uuid: str) -> Volume:
    """A volume by uuid (jobs only run on volumes that exist)."""
    return s.exec(select(Volume).where(Volume.uuid == uuid)).one()


def host_for_pool(s: Session, pool: StoragePool) -> Host:
    """An Up host that reaches a pool (its cluster, or any host of the zone for zone-wide pools)."""
    stmt = select(Host).where(
        Host.zone_id == pool.zone_id,
        Host.state == HostState.UP,
        Host.removed == None,
        Host.type == "Routing",
    )
    if pool.cluster_id is not None:
        stmt = stmt.where(Host.cluster_id == pool.cluster_id)
    host = s.exec(stmt.order_by(col(Host.id))).first()
    if host is None:
        raise Unavailable(f"No host that reaches storage pool {pool.name} is up")
    return host


def reaches(pool: StoragePool, host: Host) -> bool:
    """Whether a host can use a pool."""
    return pool.zone_id == host.zone_id and (pool.cluster_id is None or pool.cluster_id == host.cluster_id)


def vm_host(s: Session, vm: VirtualMachine) -> Host | None:
    """The host a VM runs on, or the one it last ran on."""
    hid = vm.host_id or vm.last_host_id
    return s.get(Host, hid) if hid else None


def next_device(s: Session, vm_id: int) -> int:
    """The lowest free device id of a VM (0 is ROOT, 3 the CD-ROM)."""
    used = set(s.exec(select(Volume.deviceid).where(Volume.vm_id == vm_id, Volume.removed == None)))
    for dev in range(1, MAX_DEVICE + 1):
        if dev != RESERVED_DEVICE and dev not in used:
            return dev
    raise InvalidParameter(f"The VM already has the maximum of {MAX_DEVICE} volumes attached")


def vol_event(s: Session, vol: Volume, kind: str, text: str, level: str = "INFO") -> None:
    """Record a volume event."""
    record_event(s, kind, text, account_id=vol.account_id, domain_id=vol.domain_id, resource=vol, level=level)


def result(run: JobRun) -> Ref:
    """The job result: the volume (rendered as its owner sees it)."""
    return Ref(Volume, run.instance_uuid)


# --- creation on a pool -------------------------------------------------------


async def materialise(
    run: JobRun, vol_uuid: str, host: Host, template: TemplateSpec | None = None, pool_id: int | None = None
) -> None:
    """Create an Allocated volume's disk on a pool reachable from a host (undo removes it)."""
    with run.db() as s:
        vol = vol_by_uuid(s, vol_uuid)
        off = s.get(DiskOffering, vol.diskoffering_id) if vol.diskoffering_id else None
        pool = s.get(StoragePool, pool_id) if pool_id else choose_pool(s, host, vol.size, off.tags if off else "")
        assert pool is not None
        allocate_pool(s, pool.id, vol.size)
        vol.pool_id = pool.id
        transition(vol, "create")
        s.add(vol)
        s.commit()
        spec = volume_spec(s, vol)
    run.undo.push(f"unallocate volume {vol_uuid}", lambda: _unallocate(run, vol_uuid))
    drv = await run.app.hosts.driver(host)
    info = await drv.prepare_volume(spec, template)
    run.undo.push(f"delete disk {info.path}", lambda: drv.delete_volume(replace(spec, path=info.path)))
    with run.db() as s:
        vol = vol_by_uuid(s, vol_uuid)
        allocate_pool(s, vol.pool_id, max(0, info.size_bytes - vol.size))  # the driver rounded the size up
        vol.path, vol.size, vol.physicalsize = info.path, max(vol.size, info.size_bytes), info.physical_bytes
        transition(vol, "created")
        s.add(vol)
        s.commit()


def _unallocate(run: JobRun, vol_uuid: str) -> None:
    """Undo of materialise: give the pool its bytes back and return the volume to Allocated."""
    with run.db() as s:
        vol = vol_by_uuid(s, vol_uuid)
        release_pool(s, vol.pool_id, vol.size)
        vol.pool_id, vol.path = None, ""
        if can(vol, "unallocate"):
            transition(vol, "unallocate")
        s.add(vol)
        s.commit()


def _forget(run: JobRun, vol_uuid: str) -> None:
    """Undo of createVolume: the row disappears."""
    with run.db() as s:
        vol = vol_by_uuid(s, vol_uuid)
        transition(vol, "forget")
        vol.removed, vol.vm_id, vol.deviceid = utcnow(), None, None
        s.add(vol)
        s.commit()


async def _from_snapshot(run: JobRun, snap_uuid: str) -> None:
    """Create the new volume's disk from a snapshot, on the pool of the snapshot's volume."""
    with run.db() as s:
        snap = s.exec(select(Snapshot).where(Snapshot.uuid == snap_uuid)).one()
        src = s.get(Volume, snap.volume_id)
        pool = s.get(StoragePool, src.pool_id) if src and src.pool_id else None
        if pool is None or pool.state != "Up" or pool.removed is not None:
            raise Unavailable(f"The storage pool holding snapshot {snap.name} is not available")
        host = host_for_pool(s, pool)
        tmpl = TemplateSpec(
            uuid=snap.uuid,
            name=snap.name,
            url=snapshotbackups.source_url(snap),
            format=src.format if src else "QCOW2",
            size_bytes=snap.size,
        )
    await materialise(run, run.instance_uuid, host, tmpl, pool_id=pool.id)


@job_body("createVolume", restart=Restart.RECONCILE)
async def create(run: JobRun) -> Ref:
    """Create a volume: Allocated until first attach, unless made from a snapshot or attached at once."""
    run.undo.push("forget volume", lambda: _forget(run, run.instance_uuid))
    if run.params.get("snapshotid"):
        await _from_snapshot(run, run.params["snapshotid"])
    if run.params.get("virtualmachineid"):
        await attach_to(run, run.instance_uuid, run.params["virtualmachineid"], None)
    with run.db() as s:
        vol = vol_by_uuid(s, run.instance_uuid)
        vol_event(s, vol, "VOLUME.CREATE", f"Created volume {vol.name}")
        s.commit()
    return result(run)


@job_recover("createVolume")
async def recover_create(run: JobRun) -> None:
    """A createVolume whose server died: drop the half-made volume row (its disk is recreated on attach)."""
    with run.db() as s:
        vol = s.exec(select(Volume).where(Volume.uuid == run.instance_uuid)).first()
        if vol is None or vol.removed is not None:
            return
        if can(vol, "forget"):
            transition(vol, "forget")
        vol.removed, vol.vm_id = utcnow(), None
        s.add(vol)
        s.commit()


# --- attach / detach ----------------------------------------------------------


async def attach_to(run: JobRun, vol_uuid: str, vm_uuid: str, deviceid: int | None) -> None:
    """Create the disk if needed, give it a device id and plug it into the VM."""
    with run.db() as s:
        vol = vol_by_uuid(s, vol_uuid)
        vm = s.exec(select(VirtualMachine).where(VirtualMachine.uuid == vm_uuid)).one()
        host = vm_host(s, vm)
        if host is None:
            raise InvalidParameter(f"VM {vm.name} has never been placed on a host; start it first")
        allocated, uploaded = vol.state == VolumeState.ALLOCATED, vol.state == VolumeState.UPLOADED
        pool = s.get(StoragePool, vol.pool_id) if vol.pool_id else None
    if allocated:
        await materialise(run, vol_uuid, host)
    elif uploaded:  # an uploaded volume is copied from the image store to the VM's primary pool first
        from virga.services import volupload

        await volupload.to_primary(run, vol_uuid, host)
    elif pool is not None and not reaches(pool, host):
        raise InvalidParameter(
            f"Volume {vol.name} is on storage pool {pool.name}, which host {host.name} of "
            f"VM {vm.name} cannot reach; migrate the volume first"
        )
    with run.db() as s:
        vol = vol_by_uuid(s, vol_uuid)
        dev = deviceid if deviceid is not None else next_device(s, vm.id or 0)
        vol.vm_id, vol.deviceid, vol.attached = vm.id, dev, utcnow()
        s.add(vol)
        s.commit()
        spec = volume_spec(s, vol)
    run.undo.push("unassign device", lambda: _unassign(run, vol_uuid))
    await _plug(run, vm, host, spec)
    with run.db() as s:
        vol_event(s, vol_by_uuid(s, vol_uuid), "VOLUME.ATTACH", f"Attached volume {vol.name} to VM {vm.name}")
        s.commit()
    if uploaded:
        await volupload.drop_after_copy(run, vol_uuid)


async def _plug(run: JobRun, vm: VirtualMachine, host: Host, spec: VolumeSpec) -> None:
    """Attach on the hypervisor (hot-plug when running); a stopped VM not defined there gets it at start."""
    drv = await run.app.hosts.driver(host)
    running = vm.state == VmState.RUNNING
    if running and not drv.supports(Capability.HOT_PLUG_VOLUME):
        raise NotSupported(
            f"hot-plugging volumes is not supported by the {drv.hypervisor} hypervisor; stop VM {vm.name} first"
        )
    try:
        await drv.attach_volume(vm.uuid, spec)
    except InstanceNotFound:
        if running:
            raise
        return
    run.undo.push("unplug", lambda: drv.detach_volume(vm.uuid, spec))


def _unassign(run: JobRun, vol_uuid: str) -> None:
    """Undo of a device assignment."""
    with run.db() as s:
        vol = vol_by_uuid(s, vol_uuid)
        vol.vm_id, vol.deviceid, vol.attached = None, None, None
        s.add(vol)
        s.commit()


@job_body("attachVolume", restart=Restart.RECONCILE)
async def attach(run: JobRun) -> Ref:
    """Attach a data volume to a VM."""
    await attach_to(run, run.instance_uuid, run.params["virtualmachineid"], run.params.get("deviceid"))
    return result(run)


@job_recover("attachVolume")
async def recover_attach(run: JobRun) -> None:
    """An attach whose server died: an uploaded volume caught copying to primary storage is Uploaded again."""
    from virga.services import volupload

    volupload.reset_copying(run)


@job_body("detachVolume", restart=Restart.RECONCILE)
async def detach(run: JobRun) -> Ref:
    """Unplug a data volume from its VM (it stays Ready on its pool)."""
    with run.db() as s:
        vol = vol_by_uuid(s, run.instance_uuid)
        vm = s.get(VirtualMachine, vol.vm_id) if vol.vm_id else None
        if vm is None:
            raise InvalidParameter(f"Volume {vol.name} is not attached to any VM")
        host = vm_host(s, vm)
        spec = volume_spec(s, vol)
    if host is not None and vol.path:
        drv = await run.app.hosts.driver(host)
        try:
            await drv.detach_volume(vm.uuid, spec)
        except InstanceNotFound:
            if vm.state == VmState.RUNNING:
                raise
    with run.db() as s:
        vol = vol_by_uuid(s, run.instance_uuid)
        vol.vm_id, vol.deviceid, vol.attached = None, None, None
        vol_event(s, vol, "VOLUME.DETACH", f"Detached volume {vol.name} from VM {vm.name}")
        s.add(vol)
        s.commit()
    return result(run)


# --- resize / migrate -----------------------------------------------------------


def _back_to_ready(run: JobRun) -> None:
    """Undo of a resize or migrate: the volume is Ready again with what it had."""
    with run.db() as s:
        vol = vol_by_uuid(s, run.instance_uuid)
        if vol.state in (VolumeState.RESIZING, VolumeState.MIGRATING):
            transition(vol, "failed")
            s.add(vol)
            s.commit()


@job_body("resizeVolume", restart=Restart.RECONCILE)
async def resize(run: JobRun) -> Ref:
    """Grow a volume (on the hypervisor when it exists already)."""
    run.undo.push("ready again", lambda: _back_to_ready(run))
    new_size = int(run.params["size"])
    with run.db() as s:
        vol = vol_by_uuid(s, run.instance_uuid)
        pool = s.get(StoragePool, vol.pool_id) if vol.pool_id else None
        host = host_for_pool(s, pool) if pool is not None and vol.path else None
        spec = volume_spec(s, vol)
    physical = None
    if host is not None:
        drv = await run.app.hosts.driver(host)
        drv.require(Capability.RESIZE_VOLUME)
        info = await drv.resize_volume(spec, new_size)
        physical = info.physical_bytes
    with run.db() as s:
        vol = vol_by_uuid(s, run.instance_uuid)
        if pool is not None:
            allocate_pool(s, pool.id, new_size - vol.size)
        vol.size = new_size
        if physical:
            vol.physicalsize = physical
        if vol.state == VolumeState.RESIZING:
            transition(vol, "resized")
        if run.params.get("diskofferingid"):
            vol.diskoffering_id = int(run.params["diskofferingid"])
        vol_event(s, vol, "VOLUME.RESIZE", f"Resized volume {vol.name} to {new_size // 2**30} GB")
        s.add(vol)
        s.commit()
    return result(run)


@job_body("migrateVolume", restart=Restart.RECONCILE)
async def migrate(run: JobRun) -> Ref:
    """Move a volume's disk to another pool through the driver (its MIGRATE_VOLUME capability)."""
    run.undo.push("ready again", lambda: _back_to_ready(run))
    with run.db() as s:
        vol = vol_by_uuid(s, run.instance_uuid)
        src = s.get(StoragePool, vol.pool_id)
        dst = s.exec(select(StoragePool).where(StoragePool.uuid == run.params["storageid"])).one()
        assert src is not None
        host = host_for_pool(s, src)
        spec, target = volume_spec(s, vol), pool_spec(dst)
    drv = await run.app.hosts.driver(host)
    if not drv.supports(Capability.MIGRATE_VOLUME):
        raise NotSupported(
            f"Unable to migrate volume {vol.name}: moving volumes between storage pools is "
            f"not supported by the {drv.hypervisor} hypervisor"
        )
    info = await drv.migrate_volume(spec, target)
    with run.db() as s:
        vol = vol_by_uuid(s, run.instance_uuid)
        release_pool(s, src.id, vol.size)
        allocate_pool(s, dst.id, vol.size)
        vol.pool_id, vol.path = dst.id, info.path
        transition(vol, "migrated")
        vol_event(s, vol, "VOLUME.MIGRATE", f"Migrated volume {vol.name} from {src.name} to {dst.name}")
        s.add(vol)
        s.commit()
    return result(run)


async def _reset_state(run: JobRun) -> None:
    """A resize or migrate whose server died: the volume is Ready again."""
    _back_to_ready(run)


job_recover("resizeVolume")(_reset_state)
job_recover("migrateVolume")(_reset_state)


@job_recover("detachVolume")
async def recover_detach(run: JobRun) -> None:
    """A detach whose server died, perhaps after unplugging the disk: unplug (again) and record it detached."""
    with run.db() as s:
        vol = s.exec(select(Volume).where(Volume.uuid == run.instance_uuid)).first()
        if vol is None or vol.removed is not None or vol.vm_id is None:
            return
    await detach(run)


# --- the volume commands' writes ------------------------------------------------------


def record(ctx: Ctx, vol: Volume, snap: Snapshot | None, vm: VirtualMachine | None) -> Pending:
    """Record a validated new volume as Allocated (createVolume); the job makes it (lazily)."""
    ctx.db.add(vol)
    ctx.db.flush()
    vol.name = vol.name or f"DATA-{vol.id}"
    ctx.db.add(vol)
    params = {"snapshotid": snap.uuid if snap else None, "virtualmachineid": vm.uuid if vm else None}
    return Pending("Volume", vol.uuid, params)


def queue_resize(ctx: Ctx, vol: Volume, new: int, off: DiskOffering | None) -> Pending:
    """Mark a volume Resizing (an Allocated one has no disk yet and stays so) and queue the resize."""
    if vol.state == VolumeState.READY:
        transition(vol, "resize")
    ctx.db.add(vol)
    return Pending("Volume", vol.uuid, {"size": new, "diskofferingid": off.id if off else None})


def queue_migrate(ctx: Ctx, vol: Volume, dst: StoragePool) -> Pending:
    """Mark a volume Migrating and queue its move to another pool."""
    transition(vol, "migrate")
    ctx.db.add(vol)
    return Pending("Volume", vol.uuid, {"storageid": dst.uuid})


async def delete_volume(ctx: Ctx, vol: Volume) -> None:
    """Delete a detached data volume: its disk on the pool, its image-store file, its policies, then the row."""
    from virga.services.volupload import drop_store_copy

    pool = ctx.by_id(StoragePool, vol.pool_id)
    if pool is not None and vol.path:
        drv = await ctx.app.hosts.driver(host_for_pool(ctx.db, pool))
        await drv.delete_volume(volume_spec(ctx.db, vol))
        release_pool(ctx.db, pool.id, vol.size)
    transition(vol, "destroy")
    await drop_store_copy(ctx.db, vol)  # an uploaded volume's file, or an extracted copy, on the image store
    transition(vol, "expunged")
    vol.removed = utcnow()
    ctx.db.add(vol)
    for pol in ctx.db.exec(
        select(SnapshotPolicy).where(SnapshotPolicy.volume_id == vol.id, SnapshotPolicy.removed == None)
    ):
        pol.removed = utcnow()
        ctx.db.add(pol)
    vol_event(ctx.db, vol, "VOLUME.DELETE", f"Deleted volume {vol.name}")
