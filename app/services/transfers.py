"""Image-store transfer backends: how a zone's templates, ISOs and volume files reach and leave its image store.

Chosen per zone by data, like the router backend: `zone.details["images"]` when set, else the backend the
drivers of the zone's clusters declare (`Driver.image_transfers`; "nfs" unless the driver says otherwise). A
backend whose images are files (`files`) downloads onto the zone's NFS image store and allows uploads,
extracts and snapshot backups; the others (the simulator's) say why not (`why_no_files`). Core code asks the
backend and never names a hypervisor.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol
from urllib.parse import urlparse

from sqlmodel import Session, select
from virga.drivers.base import NotSupported
from virga.drivers.registry import driver_class
from virga.errors import InternalError
from virga.models import Cluster, Template, Zone

# zone.details["images"] (or a driver's image_transfers) -> "module:Class" implementing TransferBackend.
BACKENDS = {
    "nfs": "virga.services.transfers:NfsTransfers",
    "simulated": "virga.drivers.simulator.transfers:SimulatedTransfers",
}
DEFAULT = "nfs"
NO_STORAGE_SERVICE = "real downloads need the storage service (not available yet): virga.appliance.storage is missing"


@dataclass(frozen=True)
class Download:
    """One template or ISO download: from url onto store_url/dest (files backends), progress reported in percent."""

    url: str
    store_url: str
    dest: str
    checksum: str | None
    fmt: str | None
    template_id: int | None
    text: str
    progress: Callable[[int], Awaitable[None]]


class TransferBackend(Protocol):
    """Moves a zone's images to and from its image store."""

    files: bool  # images and disks are files on an NFS image store (uploads, extracts, backups work)
    label: str  # how texts name a zone or disk of this backend
    url_scheme: str  # a template URL scheme only this backend downloads ("" for none)
    why_no_files: str  # why there is no file to copy when files is False

    async def download(self, job: Any) -> dict[str, Any]:
        """Bring a template or ISO onto the store; the template's new fields (install_path, size, ...)."""


class NfsTransfers:
    """Images as files on an NFS image store, downloaded through virga.appliance.storage."""

    files = True
    label = "NFS"
    url_scheme = ""
    why_no_files = ""

    async def download(self, job: Download) -> dict[str, Any]:
        """Download onto the NFS image store (resuming a staging file), verified, with template.properties."""
        try:
            from virga.appliance.storage import ImageStore as NfsStore
            from virga.appliance.storage import StorageError, download
            from virga.appliance.storage.landing import write_properties
        except ImportError:
            raise InternalError(NO_STORAGE_SERVICE) from None

        async def progress(pct: int, done: int) -> None:
            """Report a percentage."""
            await job.progress(pct)

        store = NfsStore(job.store_url)
        try:
            got = await download(job.url, store, job.dest, job.checksum, job.fmt, progress)
            await write_properties(NfsStore(job.store_url), got, str(job.template_id), job.text)
        except StorageError as exc:
            raise InternalError(f"Download of {job.url} failed: {exc}") from None
        return {
            "install_path": got.url,
            "size": got.virtual_size or got.size,
            "physicalsize": got.size,
            "checksum": got.checksum or job.checksum or "",
        }


@cache
def backend(kind: str) -> TransferBackend:
    """The backend of a kind (one instance per process)."""
    module, cls = BACKENDS.get(kind, BACKENDS[DEFAULT]).split(":")
    found: TransferBackend = getattr(importlib.import_module(module), cls)()
    return found


def kind_of_hypervisor(hypervisor: str) -> str:
    """The transfer backend kind a hypervisor's driver declares (the default for unknown names)."""
    try:
        return driver_class(hypervisor).image_transfers
    except NotSupported:
        return DEFAULT


def for_hypervisor(hypervisor: str | None) -> TransferBackend:
    """The transfer backend of a hypervisor's disks (a host's or a pool's)."""
    return backend(kind_of_hypervisor(hypervisor) if hypervisor else DEFAULT)


def zone_kind(s: Session, zone_id: int) -> str:
    """A zone's backend kind: its details' "images", else the one all its clusters' drivers declare."""
    zone = s.get(Zone, zone_id)
    chosen = (zone.details or {}).get("images") if zone is not None else None
    if chosen in BACKENDS:
        return str(chosen)
    hypervisors = set(s.exec(select(Cluster.hypervisor).where(Cluster.zone_id == zone_id, Cluster.removed == None)))
    kinds = {kind_of_hypervisor(h) for h in hypervisors}
    return kinds.pop() if len(kinds) == 1 else DEFAULT


def for_zone(s: Session, zone_id: int) -> TransferBackend:
    """The transfer backend of a zone."""
    return backend(zone_kind(s, zone_id))


def for_template(s: Session, t: Template, *, by_url: bool = True) -> TransferBackend:
    """The backend a template's download goes through: its URL's scheme, its hypervisor's, or its zone's (zones')."""
    scheme = urlparse(t.url).scheme.lower()
    if by_url and scheme:
        for kind in BACKENDS:
            if backend(kind).url_scheme == scheme:
                return backend(kind)
    if t.hypervisor and kind_of_hypervisor(t.hypervisor) != DEFAULT:
        return backend(kind_of_hypervisor(t.hypervisor))
    if t.zone_id is not None:
        return for_zone(s, t.zone_id)
    kinds = {zone_kind(s, z or 0) for z in s.exec(select(Zone.id).where(Zone.removed == None))}
    return backend(kinds.pop() if len(kinds) == 1 else DEFAULT)


def url_backend(url: str) -> TransferBackend | None:
    """The backend owning a URL's scheme (simulator://...), or None for ordinary http(s) URLs."""
    scheme = urlparse(url).scheme.lower()
    return next((backend(k) for k in BACKENDS if scheme and backend(k).url_scheme == scheme), None)
