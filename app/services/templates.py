"""Template and ISO downloads (through the zone's transfer backend, services/transfers.py) and the template writes."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select
from virga.context import Ctx
from virga.errors import InternalError, Unavailable
from virga.jobs.engine import JobRun, Ref, Restart, job_body, job_recover
from virga.jobs.pending import Pending
from virga.models import Account, AsyncJob, ImageStore, Template, utcnow
from virga.models.offerings import LaunchPermission
from virga.services import transfers
from virga.services.states import can, transition

if TYPE_CHECKING:
    from virga.core import VirgaApp


def simulator_zone(s: Session, zone_id: int) -> bool:
    """Whether a zone's images are not files (its transfer backend says so); kept for services/imagestores.py."""
    return not transfers.for_zone(s, zone_id).files


def _tmpl(s: Session, uuid: str) -> Template:
    """A template by uuid."""
    return s.exec(select(Template).where(Template.uuid == uuid)).one()


def update(app: VirgaApp, uuid: str, **values: Any) -> None:
    """Update a template row and tell watchers."""
    with app.db.session() as s:
        t = _tmpl(s, uuid)
        for key, value in values.items():
            setattr(t, key, value)
        s.add(t)
        s.commit()
    app.emit("template", uuid)


def _set(run: JobRun, **values: Any) -> None:
    """Update the job's template row."""
    update(run.app, run.instance_uuid, **values)


def store_of(s: Session, t: Template) -> ImageStore:
    """The image store a template lands on (its zone's, else any)."""
    stmt = select(ImageStore).where(ImageStore.removed == None, ImageStore.readonly == False)  # noqa:E712
    if t.zone_id is not None:
        stmt = stmt.where((ImageStore.zone_id == t.zone_id) | (ImageStore.zone_id == None))
    store = s.exec(stmt.order_by(col(ImageStore.id))).first()
    if store is None:
        raise Unavailable(f"No image store is available for template {t.name}; add one with addImageStore")
    return store


def dest_of(t: Template) -> str:
    """The store path of a template or ISO file."""
    from virga.appliance.storage.layout import iso_path, template_path

    fmt = t.format.lower()
    return (
        iso_path(t.account_id, t.id, t.uuid)
        if t.is_iso
        else template_path(t.account_id, t.id, t.uuid, fmt if fmt != "ova" else "vmdk")
    )


async def _download(run: JobRun, backend: transfers.TransferBackend) -> None:
    """Bring the template onto its image store through the zone's transfer backend, recording progress."""
    with run.db() as s:
        t = _tmpl(s, run.instance_uuid)
        store_url, dest = (store_of(s, t).url, dest_of(t)) if backend.files else ("", "")
        fmt = t.format.lower()
        job = transfers.Download(
            url=t.url,
            store_url=store_url,
            dest=dest,
            checksum=t.checksum or None,
            fmt=None if fmt == "ova" else fmt,
            template_id=t.id,
            text=t.displaytext,
            progress=lambda pct: _progress(run, pct),
        )
    got = await backend.download(job)
    _set(run, status="Download Complete", isready=True, **got)


async def _progress(run: JobRun, pct: int) -> None:
    """Record download progress on the template and the job."""
    _set(run, status=f"{pct}% Downloaded")
    run.progress(pct)


@job_body("downloadTemplate")
async def download_body(run: JobRun) -> Ref:
    """Download a registered template or ISO, recording progress in its status."""
    with run.db() as s:
        t = _tmpl(s, run.instance_uuid)
        backend, is_iso = transfers.for_template(s, t), t.is_iso
    _set(run, status="Download In Progress", isready=False)
    try:
        await _download(run, backend)
    except Exception as exc:
        _set(run, status=f"Download Failed: {getattr(exc, 'text', None) or exc}", isready=False)
        raise
    return Ref(Template, run.instance_uuid, key="iso" if is_iso else None)


@job_recover("downloadTemplate")
async def recover_download(run: JobRun) -> None:
    """A download whose server died is queued again: a real one resumes from its staging file (HTTP Range)."""
    with run.db() as s:
        t = s.exec(select(Template).where(Template.uuid == run.instance_uuid)).first()
        if t is None or t.removed is not None or t.isready:
            return
        job = AsyncJob(
            cmd="virga.api.downloadTemplate",
            command="downloadTemplate",
            params=dict(run.params),
            user_id=run.user_id,
            instancetype="Iso" if t.is_iso else "Template",
            instance_uuid=t.uuid,
            account_id=t.account_id,
            domain_id=t.domain_id,
        )
        run.app.jobs.submit(s, job)
        t.status = "Download Pending (resuming after a management-server restart)"
        s.add(t)
        s.commit()
    run.app.emit("template", run.instance_uuid)


def _pools_in_use(s: Session, t: Template) -> tuple[list[str], list[str]]:
    """(local pool directories without a volume of this template, those with one)."""
    from virga.models import StoragePool, Volume

    used = {v.pool_id for v in s.exec(select(Volume).where(Volume.template_id == t.id, Volume.removed == None))}
    pools = [p for p in s.exec(select(StoragePool).where(StoragePool.removed == None)) if p.path]
    return [p.path for p in pools if p.id not in used], [p.path for p in pools if p.id in used]


async def purge(run: JobRun) -> dict[str, Any]:
    """Remove a deleted template's files from its image store and its unused cached copies on primary pools."""
    from virga.appliance.storage import ImageStore as NfsStore
    from virga.appliance.storage import StorageError
    from virga.appliance.storage.purge import cached_copies, drop_cached, purge_from_store

    with run.db() as s:
        t = _tmpl(s, run.instance_uuid)
        path, template_uuid = t.install_path or "", t.uuid
        stores = [st.url for st in s.exec(select(ImageStore).where(ImageStore.removed == None))]
        free, busy = _pools_in_use(s, t)
    store_url = next((u for u in stores if path.startswith(u.rstrip("/") + "/")), None)
    if not path.startswith("nfs://") or store_url is None:
        return {"success": True}
    try:
        await purge_from_store(NfsStore(store_url), path)
    except StorageError as exc:
        raise InternalError(f"Template {template_uuid}: cannot remove {path} from the image store: {exc}") from None
    # The image cache copy is the source of pool copies: keep it while any volume of the template exists.
    drop_cached(cached_copies(path, template_uuid, free, image_cache=not busy))
    return {"success": True}


@job_body("deleteTemplate", restart=Restart.RECONCILE)
async def delete_template_body(run: JobRun) -> dict[str, Any]:
    """deleteTemplate's job: the row is already removed; its files go now."""
    return await purge(run)


job_body("deleteIso", restart=Restart.RECONCILE)(delete_template_body)


async def recover_delete(run: JobRun) -> None:
    """A deletion whose server died part-way through removing the files: remove what is left (idempotent)."""
    await purge(run)


job_recover("deleteTemplate")(recover_delete)
job_recover("deleteIso")(recover_delete)


# --- the synchronous writes of the template commands ---------------------------------------------------


def queue_download(ctx: Ctx, t: Template) -> None:
    """Queue the download job with the caller's transaction; wake the workers once it is committed."""
    job = AsyncJob(
        cmd="virga.api.downloadTemplate",
        command="downloadTemplate",
        params={"id": t.uuid},
        account_id=ctx.account.id,
        domain_id=ctx.account.domain_id,
        user_id=ctx.user.id,
        instancetype="Iso" if t.is_iso else "Template",
        instance_uuid=t.uuid,
    )
    ctx.app.jobs.submit(ctx.db, job)
    asyncio.get_running_loop().call_soon(ctx.app.jobs.notify)


def register(ctx: Ctx, t: Template) -> Template:
    """Record a validated registration (registerTemplate, registerIso) and queue its download."""
    ctx.db.add(t)
    ctx.db.flush()
    queue_download(ctx, t)
    return t


def change(ctx: Ctx, t: Template, values: dict[str, Any]) -> Template:
    """Apply validated attribute changes to a template (updateTemplate, updateIso, the permission flags)."""
    for key, value in values.items():
        setattr(t, key, value)
    ctx.db.add(t)
    return t


def delete(ctx: Ctx, t: Template) -> Pending:
    """Mark a template removed (VMs made from it keep their volumes); its job removes the files."""
    t.removed = utcnow()
    if can(t, "delete"):
        transition(t, "delete")
    ctx.db.add(t)
    return Pending("Iso" if t.is_iso else "Template", t.uuid, {"id": t.uuid})


def set_permissions(ctx: Ctx, t: Template, op: str, targets: list[Account], flags: dict[str, Any]) -> None:
    """Apply a validated launch-permission change: flags, then add/remove/reset accounts."""
    current = {p.account_id: p for p in permissions_of(ctx.db, t)}
    if op == "reset":
        targets = list(ctx.db.exec(select(Account).where(col(Account.id).in_(list(current)))))
    for acct in targets:
        if op == "add" and acct.id not in current:
            ctx.db.add(LaunchPermission(template_id=t.id or 0, account_id=acct.id or 0))
        elif op in ("remove", "reset") and acct.id in current:
            ctx.db.delete(current[acct.id])
    change(ctx, t, flags)


def permissions_of(s: Session, t: Template) -> list[LaunchPermission]:
    """A template's live launch permissions."""
    return list(
        s.exec(select(LaunchPermission).where(LaunchPermission.template_id == t.id, LaunchPermission.removed == None))
    )
