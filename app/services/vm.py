"""What the VM services share: a VM by uuid, its events, what it needs from a host, its guest's power state.

The VM's workflows live by topic: vmdeploy (deploy), vmpower (start, stop, reboot), vmmigrate, vmconfig
(update, offering changes and scale), vmlifecycle (destroy, recover, expunge, purge); vmsnapshots.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, select
from virga.db import by_column
from virga.drivers.base import InstanceNotFound, PowerState
from virga.models import Host, Nic, ServiceOffering, VirtualMachine
from virga.services.events import record_event
from virga.services.placement import Need

if TYPE_CHECKING:
    from virga.core import VirgaApp

log = logging.getLogger(__name__)
MB = 2**20


def need_of(vm: VirtualMachine | Any, offering: ServiceOffering | None) -> Need:
    """What a VM needs from a host."""
    return Need(
        zone_id=vm.zone_id,
        cpu_mhz=vm.cpunumber * vm.cpuspeed,
        memory_bytes=vm.memory * MB,
        hosttags=offering.hosttags if offering else "",
        hypervisor=vm.hypervisor or None,
    )


def _vm(s: Session, uuid: str) -> VirtualMachine:
    """A VM by uuid (jobs only run on VMs that exist)."""
    vm: VirtualMachine = s.exec(by_column(VirtualMachine, "uuid"), params={"v": uuid}).one()
    return vm


def _event(s: Session, vm: VirtualMachine, kind: str, text: str, level: str = "INFO") -> None:
    """Record a VM event."""
    record_event(s, kind, text, account_id=vm.account_id, domain_id=vm.domain_id, resource=vm, level=level)


def _networks_of(s: Session, vm_id: int) -> list[int]:
    """Ids of the networks a VM has NICs on (including removed NICs of this VM)."""
    return sorted({n.network_id for n in s.exec(select(Nic).where(Nic.vm_id == vm_id))})


async def guest_state(app: VirgaApp, host: Host, uuid: str) -> PowerState | None:
    """The guest's power state on a host, or None when the host does not have it."""
    drv = await app.hosts.driver(host)
    try:
        return (await drv.get_instance(uuid)).state
    except InstanceNotFound:
        return None
