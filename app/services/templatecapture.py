"""Templates made from a volume snapshot or from a stopped VM's root volume.

Where the data is a file on this management server or on a KVM host reached over SSH (copied there by the
host's own qemu-img) and the zone has an NFS image store, the template is written to the store
(template/tmpl/<account>/<template id>/<uuid>.qcow2): from the snapshot's backup, or from a temporary driver
snapshot of the root volume. Otherwise (the simulator, other remote hosts) the template
points at the driver's snapshot on primary storage, and that snapshot cannot be deleted while it is used.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select
from virga.context import Ctx
from virga.jobs.engine import JobRun, Ref, Restart, job_body, job_recover
from virga.jobs.pending import Pending
from virga.models import OsType, Snapshot, StoragePool, Template, VirtualMachine, Volume, utcnow
from virga.services import snapshotbackups
from virga.services.events import record_event
from virga.services.snapshots import volume_host
from virga.services.specs import volume_spec
from virga.services.states import can, transition


def _tmpl(s: Session, uuid: str) -> Template:
    """A template by uuid."""
    return s.exec(select(Template).where(Template.uuid == uuid)).one()


def _dest(t: Template) -> str:
    """The store path of a template made here (always qcow2)."""
    from virga.appliance.storage.layout import template_path

    return template_path(t.account_id, t.id, t.uuid, "qcow2")


async def _from_snapshot(run: JobRun, snap: Snapshot, dest: str) -> tuple[str, int]:
    """(install path, physical size) of a template made from a snapshot: a store copy of its backup if any."""
    if not snap.backup_path:
        return snap.path, snap.physicalsize
    got = await snapshotbackups.template_from_backup(snap.backup_path, dest)
    run.undo.push("delete template copy", lambda: snapshotbackups.drop_backup(got.url))
    return got.url, got.size


async def _from_volume(run: JobRun, vol: Volume, dest: str) -> tuple[str, int, int]:
    """(install path, size, physical size) from a fresh driver snapshot, copied to the store where possible."""
    with run.db() as s:
        host, spec = volume_host(s, vol), volume_spec(s, vol)
    drv = await run.app.hosts.driver(host)
    info = await drv.snapshot_volume(spec, f"template-{run.instance_uuid}")
    run.undo.push("delete template snapshot", lambda: drv.delete_volume_snapshot(spec, info))
    with run.db() as s:
        store = snapshotbackups.store_for_file(s, vol.zone_id, host, info.path)
    if isinstance(store, str):
        return info.path, info.size_bytes, info.size_bytes
    got = await snapshotbackups.template_from_file(info.path, store.url, dest, snapshotbackups.remote_host(host))
    run.undo.push("delete template copy", lambda: snapshotbackups.drop_backup(got.url))
    await drv.delete_volume_snapshot(spec, info)
    return got.url, max(got.virtual_size, info.size_bytes), got.size


@job_body("createTemplate", restart=Restart.RECONCILE)
async def create_template(run: JobRun) -> Ref:
    """Make a template ready from a snapshot (its data) or a stopped VM's root volume (a fresh snapshot)."""
    run.undo.push("drop template", lambda: _drop_template(run))
    with run.db() as s:
        tmpl = _tmpl(s, run.instance_uuid)
        source, dest, size = dict(tmpl.details or {}), _dest(tmpl), tmpl.size
        snap = (
            s.exec(select(Snapshot).where(Snapshot.uuid == source["sourcesnapshotid"])).one()
            if source.get("sourcesnapshotid")
            else None
        )
        vol = None if snap else s.exec(select(Volume).where(Volume.uuid == source["sourcevolumeid"])).one()
    if snap is not None:
        (path, physical), size = await _from_snapshot(run, snap, dest), max(size, snap.size)
    else:
        assert vol is not None
        path, vsize, physical = await _from_volume(run, vol, dest)
        size = max(size, vsize)
    with run.db() as s:
        tmpl = _tmpl(s, run.instance_uuid)
        tmpl.install_path, tmpl.size, tmpl.physicalsize = path, size, physical
        tmpl.isready, tmpl.status = True, "Download Complete"
        record_event(
            s,
            "TEMPLATE.CREATE",
            f"Created template {tmpl.name}",
            account_id=tmpl.account_id,
            domain_id=tmpl.domain_id,
            resource=tmpl,
        )
        s.add(tmpl)
        s.commit()
    return Ref(Template, run.instance_uuid)


def _drop_template(run: JobRun) -> None:
    """Undo of createTemplate: the template row goes away."""
    with run.db() as s:
        tmpl = _tmpl(s, run.instance_uuid)
        tmpl.removed, tmpl.status = utcnow(), "Failed"
        if can(tmpl, "delete"):
            transition(tmpl, "delete")
        s.add(tmpl)
        s.commit()


async def _recover_template(run: JobRun) -> None:
    """A createTemplate whose server died: drop the unfinished template and any copy it left on the image store."""
    with run.db() as s:
        tmpl = s.exec(select(Template).where(Template.uuid == run.instance_uuid)).first()
        if tmpl is None or tmpl.isready:
            return
        store = snapshotbackups.zone_store(s, tmpl.zone_id) if tmpl.zone_id else None
        copy = f"{store.url.rstrip('/')}/{_dest(tmpl)}" if store is not None else None
        tmpl.removed = tmpl.removed or utcnow()
        if can(tmpl, "delete"):
            transition(tmpl, "delete")
        s.add(tmpl)
        s.commit()
    if copy is not None:
        await snapshotbackups.drop_backup(copy)  # gone already (or never made) is fine


job_recover("createTemplate")(_recover_template)


def record_template(
    ctx: Ctx, os: OsType, vol: Volume | None, details: dict[str, Any], flags: dict[str, Any]
) -> Pending:
    """Record a template made from a snapshot or a root volume (createTemplate), not ready; the job makes it."""
    hypervisor = _hypervisor_of(ctx, vol)
    chosen: dict[str, Any] = {"hypervisor": hypervisor} if hypervisor else {}  # else the model's default
    tmpl = Template(
        **chosen,
        name=flags["name"],
        displaytext=flags["displaytext"],
        ostype_id=os.id,
        zone_id=vol.zone_id if vol else None,
        size=vol.size if vol else 0,
        ispublic=flags["ispublic"],
        isfeatured=flags["isfeatured"],
        passwordenabled=flags["passwordenabled"],
        status="Creating",
        account_id=ctx.account.id or 0,
        domain_id=ctx.account.domain_id,
        details=details,
        format=vol.format if vol else "QCOW2",
    )
    ctx.db.add(tmpl)
    ctx.db.flush()
    return Pending("Template", tmpl.uuid)


def _hypervisor_of(ctx: Ctx, vol: Volume | None) -> str | None:
    """The hypervisor a template made from a volume runs on: its VM's, else its pool's (None: unknown)."""
    vm = ctx.by_id(VirtualMachine, vol.vm_id) if vol else None
    if vm is not None and vm.hypervisor:
        return vm.hypervisor
    pool = ctx.by_id(StoragePool, vol.pool_id) if vol else None
    return pool.hypervisor if pool is not None and pool.hypervisor else None
