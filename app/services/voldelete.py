"""Data volumes deleted with their VM (destroyVirtualMachine volumeids): detached, removed on the pool, expunged."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlmodel import select
from virga.models import SnapshotPolicy, StoragePool, Volume, utcnow
from virga.services.capacity import release_pool
from virga.services.specs import volume_spec
from virga.services.states import can, transition
from virga.services.volumes import host_for_pool, vol_event

if TYPE_CHECKING:
    from virga.core import VirgaApp

log = logging.getLogger(__name__)


async def delete_with_vm(app: VirgaApp, uuids: list[str]) -> None:
    """Detach and delete each data volume (its disk on the pool, then the row), as deleteVolume does."""
    for uuid in uuids:
        with app.db.session() as s:
            vol = s.exec(select(Volume).where(Volume.uuid == uuid, Volume.removed == None)).first()
            if vol is None:
                continue
            pool = s.get(StoragePool, vol.pool_id) if vol.pool_id else None
            spec = volume_spec(s, vol) if pool is not None and vol.path else None
            host = host_for_pool(s, pool) if spec is not None and pool is not None else None
        if host is not None and spec is not None:
            await (await app.hosts.driver(host)).delete_volume(spec)
        with app.db.session() as s:
            vol = s.exec(select(Volume).where(Volume.uuid == uuid)).one()
            if spec is not None:
                release_pool(s, vol.pool_id, vol.size)
            vol.vm_id, vol.deviceid, vol.attached = None, None, None
            if can(vol, "destroy"):
                transition(vol, "destroy")
            transition(vol, "expunged")
            vol.removed = utcnow()
            s.add(vol)
            for pol in s.exec(select(SnapshotPolicy).where(SnapshotPolicy.volume_id == vol.id)):
                pol.removed = pol.removed or utcnow()
                s.add(pol)
            vol_event(s, vol, "VOLUME.DELETE", f"Deleted volume {vol.name} with its VM")
            s.commit()
