"""Volume uploads (getUploadParamsForVolume + the signed POST) and extractVolume (a signed, expiring URL)."""

from __future__ import annotations

from typing import Any

from virga.api.commands.uploads import EXTRACT_PARAMS, check_mode
from virga.api.registry import Param, api
from virga.api.validators import one_of
from virga.context import Ctx
from virga.errors import InvalidParameter, Unsupported
from virga.jobs.pending import Pending
from virga.models import DiskOffering, StoragePool, VirtualMachine, Volume, Zone
from virga.services import limits, transfers, uploads, volupload
from virga.services.states import VmState, VolumeState

UPLOAD_FORMATS = ("QCOW2", "RAW")


@api(
    "getUploadParamsForVolume",
    "Registers a data volume to be uploaded from the client with a signed POST",
    "getuploadparams",
    [
        Param("name", required=True, description="the name of the volume"),
        Param("format", required=True, description="QCOW2 or RAW"),
        Param("zoneid", "uuid", required=True, description="the zone"),
        Param("checksum", description="{md5}hex, {sha256}hex, ... verified after the upload"),
        Param("diskofferingid", "uuid", description="a (custom) disk offering recorded on the volume"),
        Param("account", description="the owner account (admins)"),
        Param("domainid", "uuid", description="its domain"),
        Param("projectid", "uuid", description="unused"),
        Param("imagestoreuuid", description="unused"),
    ],
)
def get_upload_params_volume(ctx: Ctx) -> dict[str, Any]:
    """Record a volume in state NotUploaded and sign the POST that will carry its file."""
    a = ctx.args
    account, domain = ctx.owner()
    fmt = one_of(a.format, UPLOAD_FORMATS, "format") or ""
    zone = ctx.get(Zone, a.zoneid, "zoneid")
    off = ctx.opt(DiskOffering, "diskofferingid")
    backend = transfers.for_zone(ctx.db, zone.id or 0)
    if not backend.files:
        raise InvalidParameter(
            f"Zone {zone.name} is a {backend.label} zone: volume uploads need a real NFS image store "
            f"({backend.why_no_files})"
        )
    volupload.nfs_store_url(ctx.db, zone.id or 0)
    checksum = _checksum(a.checksum)
    limits.check(ctx.db, account, 2, 1)
    vol = Volume(
        name=a.name,
        type="DATADISK",
        zone_id=zone.id or 0,
        format=fmt,
        state=VolumeState.NOT_UPLOADED,
        diskoffering_id=off.id if off else None,
        account_id=account.id or 0,
        domain_id=domain.id or 0,
    )
    return {"getuploadparams": volupload.record_upload(ctx, vol, checksum)}


def _checksum(text: str | None) -> str:
    """A checksum parameter checked for form now (431), so the upload is not the first to find it malformed."""
    from virga.appliance.storage import StorageError, parse_checksum

    try:
        parse_checksum(text)
    except StorageError as exc:
        raise InvalidParameter(f"Parameter checksum: {exc}") from None
    return text or ""


def _extractable(ctx: Ctx, vol: Volume) -> None:
    """Refuse volumes whose content cannot be read consistently or at all (431/432)."""
    if vol.state == VolumeState.UPLOADED:
        return
    if vol.state != VolumeState.READY:
        raise InvalidParameter(f"Volume {vol.name} is {vol.state}; only Ready or Uploaded volumes can be extracted")
    vm = ctx.by_id(VirtualMachine, vol.vm_id)
    if vm is not None and vm.state != VmState.STOPPED:
        raise InvalidParameter(
            f"Volume {vol.name} is attached to VM {vm.name}, which is {vm.state}; "
            "detach the volume or stop the VM first"
        )
    pool = ctx.by_id(StoragePool, vol.pool_id)
    backend = transfers.for_zone(ctx.db, vol.zone_id)
    if backend.files and pool is not None:
        backend = transfers.for_hypervisor(pool.hypervisor)
    if not backend.files:
        raise Unsupported(f"Volume {vol.name} is a {backend.label} disk ({backend.why_no_files}): no file to extract")
    volupload.nfs_store_url(ctx.db, vol.zone_id)


@api(
    "extractVolume",
    "Gives a signed, expiring URL to download a volume's content",
    "volume",
    EXTRACT_PARAMS,
    is_async=True,
)
def extract_volume(ctx: Ctx) -> Pending:
    """Check the caller's volume can be extracted and queue its copy to the image store and the URL's creation."""
    vol = ctx.get(Volume, ctx.args.id, "id")
    ctx.require(vol, f"volume {vol.name}")
    mode = check_mode(ctx)
    if ctx.args.zoneid and ctx.get(Zone, ctx.args.zoneid, "zoneid").id != vol.zone_id:
        raise InvalidParameter(f"Volume {vol.name} is not in the zone given by parameter zoneid")
    _extractable(ctx, vol)
    uploads.signing_key(ctx.db)
    return Pending("Volume", vol.uuid, {"mode": mode})
