"""Image stores (secondary storage): recording one (after checking its NFS export answers) and deleting one."""

from __future__ import annotations

import logging

from sqlmodel import Session
from virga.errors import Unavailable
from virga.models import ImageStore, Zone, utcnow
from virga.services import transfers

log = logging.getLogger(__name__)


async def _probe(store: ImageStore) -> None:
    """Check the export answers and read its capacity through the storage service, when installed."""
    try:
        from virga.appliance.storage import ImageStore as NfsStore
        from virga.appliance.storage import StorageError
    except ImportError:
        log.warning("virga.appliance.storage is not installed; image store %s recorded unchecked", store.url)
        return
    try:
        nfs = NfsStore(store.url)
        await nfs.check()
        cap = await nfs.capacity()
    except StorageError as exc:
        raise Unavailable(
            f"Unable to add the image store: the NFS export {store.url} does not answer ({exc}) (parameter url)"
        ) from None
    store.capacitybytes, store.usedbytes = cap.total, cap.used


async def add_image_store(s: Session, name: str, url: str, zone: Zone | None) -> ImageStore:
    """addImageStore/addSecondaryStorage: probe the export (when the zone's images are files on it), record it."""
    store = ImageStore(
        name=name, zone_id=zone.id if zone else None, url=url.rstrip("/"), scope="ZONE" if zone else "REGION"
    )
    if zone is None or transfers.for_zone(s, zone.id or 0).files:  # a zone whose images are files: a real export
        await _probe(store)
    s.add(store)
    s.flush()
    return store


def delete_image_store(s: Session, store: ImageStore) -> None:
    """deleteImageStore: the store leaves the cloud (the command checked nothing is stored on it)."""
    store.removed = utcnow()
    s.add(store)
