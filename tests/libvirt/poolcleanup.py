"""Safety net after a failed test: release a database's KVM pools on qemu:///system through the driver."""

from __future__ import annotations

from sqlmodel import select
from virga.core import VirgaApp
from virga.drivers.base import HostConnection, PoolSpec
from virga.models import StoragePool
from virga.services.specs import pool_spec


def kvm_pool_specs(app: VirgaApp) -> list[PoolSpec]:
    """Every KVM pool the database ever had (deleted ones too: releasing twice is harmless)."""
    with app.db.session() as s:
        rows = s.exec(select(StoragePool).where(StoragePool.hypervisor == "KVM")).all()
        return [pool_spec(p) for p in rows]


async def release_pools(specs: list[PoolSpec]) -> None:
    """Stop and undefine the libvirt pools virga defined for these pools (their files stay)."""
    from virga.drivers.libvirt import LibvirtDriver

    drv = LibvirtDriver(HostConnection(url="qemu:///system"))
    await drv.connect()
    try:
        for spec in specs:
            await drv.release_pool(spec)
    finally:
        await drv.close()
