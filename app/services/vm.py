"""VM orchestration inside jobs: deploy, start, stop, reboot, destroy and expunge."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, case
from sqlmodel import Session, select
from virga.db import by_column, insert_row, memo
from virga.drivers.base import InstanceNotFound, PowerState
from virga.jobs.batch import Phase, Request
from virga.jobs.engine import JobRun, Ref, job_body, job_recover
from virga.models import (
    DiskOffering,
    Host,
    LoadBalancerMember,
    Network,
    Nic,
    PortForwardingRule,
    PublicIpAddress,
    ServiceOffering,
    Template,
    VirtualMachine,
    Volume,
    utcnow,
)
from virga.services import ipam
from virga.services.capacity import allocate_pool, place_vm, release_host, release_pool
from virga.services.events import record_event
from virga.services.network import implement, sync_router
from virga.services.placement import Need, choose_pool
from virga.services.specs import instance_spec, volume_spec
from virga.services.states import transition

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


def result(run: JobRun) -> dict[str, Any]:
    """The job result: the VM as its owner sees it now."""
    from virga.api.views.vm import vm_view

    with run.ctx() as ctx:
        vm = _vm(ctx.db, run.instance_uuid)
        return {"virtualmachine": vm_view(ctx, vm)}


# --- deploy ----------------------------------------------------------------


@dataclass
class Allocation:
    """What deploy's allocation wrote: the host, the volume and NIC rows, the networks (and those it implemented).

    The rows are plain namespaces (Core inserts), kept so the driver spec needs no read-back; `hold` keeps
    the ORM rows the spec reads (pools, networks) alive in the session's weak identity map.
    """

    host: Host
    volumes: list[Any] = field(default_factory=list)
    nics: list[Any] = field(default_factory=list)
    networks: list[int] = field(default_factory=list)
    fresh: list[int] = field(default_factory=list)
    hold: list[Any] = field(default_factory=list)


def _allocate(s: Session, vm: Any, params: dict[str, Any]) -> Allocation:
    """Reserve a host, write the ROOT (and DATA) volume rows and the NICs, all in one transaction.

    The writes are Core statements (deploy's hot path: no ORM unit of work).
    """
    offering = memo(s, (ServiceOffering, vm.serviceoffering_id), lambda: s.get(ServiceOffering, vm.serviceoffering_id))
    host = place_vm(s, vm, need_of(vm, offering))
    _place(s, vm, host)
    made = Allocation(host)
    tmpl = memo(s, (Template, vm.template_id), lambda: s.get(Template, vm.template_id))
    assert tmpl is not None
    root_size = max(int(params.get("rootdisksize") or 0) * 2**30, tmpl.size)
    vols = [("ROOT", root_size, None, tmpl.id)]
    if params.get("diskofferingid"):
        off = memo(
            s,
            (DiskOffering, params["diskofferingid"]),
            lambda: s.exec(by_column(DiskOffering, "uuid"), params={"v": params["diskofferingid"]}).one(),
        )
        vols.append(("DATADISK", int(params.get("size") or off.disksize) * 2**30, off.id, None))
    for device, (kind, size, off_id, tmpl_id) in enumerate(vols):
        pool = choose_pool(s, host, size, offering.tags if offering else "")
        allocate_pool(s, pool.id, size)
        made.hold.append(pool)
        made.volumes.append(
            insert_row(
                s,
                Volume,
                {
                    "name": f"{kind}-{vm.id}" + (f"-{device}" if device else ""),
                    "type": kind,
                    "zone_id": vm.zone_id,
                    "pool_id": pool.id,
                    "vm_id": vm.id,
                    "deviceid": device,
                    "size": size,
                    "diskoffering_id": off_id,
                    "template_id": tmpl_id,
                    "account_id": vm.account_id,
                    "domain_id": vm.domain_id,
                    "state": "Creating",
                },
            )
        )
    for i, net_uuid in enumerate(params.get("networkids") or []):
        net = memo(s, (Network, net_uuid), lambda u=net_uuid: s.exec(by_column(Network, "uuid"), params={"v": u}).one())
        if implement(s, net):
            made.fresh.append(net.id or 0)
        ip = ipam.allocate_guest_ip(s, net, (params.get("ipaddress") if i == 0 else None))
        made.hold.append(net)
        made.nics.append(
            insert_row(
                s,
                Nic,
                {
                    "vm_id": vm.id,
                    "network_id": net.id or 0,
                    "ipaddress": ip,
                    "ip_int": ipam.ip_to_int(ip),
                    "netmask": net.netmask,
                    "gateway": net.gateway,
                    "macaddress": ipam.new_mac(s, net),
                    "isdefault": i == 0,
                    "deviceid": i,
                    "broadcasturi": net.broadcasturi,
                    "type": net.guestiptype,
                },
            )
        )
        made.networks.append(net.id or 0)
    made.hold += [offering, tmpl]
    return made


def _place(s: Session, vm: Any, host: Host) -> None:
    """Record the VM's host and pod (a Core update)."""
    s.connection().execute(PLACE_VM, {"v": vm.id, "h": host.id, "p": host.pod_id})


async def purge(app: VirgaApp, vm_id: int, *, on_driver: bool = True) -> None:
    """Remove every trace of a VM: guest, disks, NICs, rules, capacity and the row itself."""
    with app.db.session() as s:
        vm = s.get(VirtualMachine, vm_id)
        if vm is None or vm.removed is not None:
            return
        host = s.get(Host, vm.host_id or vm.last_host_id) if (vm.host_id or vm.last_host_id) else None
        vols = [
            (v, volume_spec(s, v)) for v in s.exec(select(Volume).where(Volume.vm_id == vm.id, Volume.removed == None))
        ]
    if on_driver and host is not None:
        await _driver_cleanup(app, host, vm.uuid, [spec for v, spec in vols if v.path and v.type == "ROOT"])
    with app.db.session() as s:
        vm = s.get(VirtualMachine, vm_id)
        assert vm is not None
        _release_rows(s, vm)
        s.commit()


async def _driver_cleanup(app: VirgaApp, host: Host, uuid: str, vols: list[Any]) -> None:
    """Destroy the guest and delete its disks on the host, ignoring what is already gone."""
    try:
        drv = await app.hosts.driver(host)
        try:
            await drv.destroy_instance(uuid)
        except InstanceNotFound:
            pass
        for spec in vols:
            await drv.delete_volume(spec)
    except Exception as exc:
        log.warning("cleanup of %s on host %s incomplete: %s", uuid, host.name, exc)


def _release_rows(s: Session, vm: VirtualMachine) -> None:
    """Free capacity, NICs, ROOT volume, rules and NAT of a VM and mark it removed."""
    now = utcnow()
    if vm.host_id and vm.state in ("Starting", "Running", "Stopping", "Migrating"):
        release_host(s, vm.host_id, vm)
    for vol in s.exec(select(Volume).where(Volume.vm_id == vm.id, Volume.removed == None)):
        if vol.type == "ROOT" or vol.state == "Creating":
            release_pool(s, vol.pool_id, vol.size)
            vol.state, vol.removed = "Expunged", now
        else:
            vol.vm_id, vol.deviceid = None, None
        s.add(vol)
    for nic in s.exec(select(Nic).where(Nic.vm_id == vm.id, Nic.removed == None)):
        nic.removed = now
        s.add(nic)
    for rule in s.exec(
        select(PortForwardingRule).where(PortForwardingRule.vm_id == vm.id, PortForwardingRule.removed == None)
    ):
        rule.removed, rule.state = now, "Revoke"
        s.add(rule)
    for member in s.exec(
        select(LoadBalancerMember).where(LoadBalancerMember.vm_id == vm.id, LoadBalancerMember.removed == None)
    ):
        member.removed = now
        s.add(member)
    for ip in s.exec(select(PublicIpAddress).where(PublicIpAddress.vm_id == vm.id)):
        ip.vm_id, ip.vm_ip, ip.isstaticnat = None, None, False
        s.add(ip)
    vm.state, vm.removed, vm.host_id = "Expunged", now, None
    s.add(vm)


def _networks_of(s: Session, vm_id: int) -> list[int]:
    """Ids of the networks a VM has NICs on (including removed NICs of this VM)."""
    return sorted({n.network_id for n in s.exec(select(Nic).where(Nic.vm_id == vm_id))})


@job_body("deployVirtualMachine")
async def deploy(run: JobRun) -> dict[str, Any]:
    """Place, allocate, create and start a VM; any failure removes everything it made.

    The database phases (allocation, disk paths, the final state) run batched with those of
    concurrent deploys (virga.jobs.batch), each in its own savepoint.
    """
    app = run.app
    vm_id, host, networks, fresh, spec = await run.batched(ALLOCATE, lambda s: _allocation(run, s))
    run.undo.push("shut down networks implemented for this VM", lambda: _unimplement(app, fresh, vm_id))
    tspec = spec.template  # the disk template (None for ISO deploys)
    drv = await app.hosts.driver(host)
    made = []
    for vol in spec.volumes:
        info = await drv.prepare_volume(vol, tspec if vol.kind == "ROOT" else None)
        made.append(replace(vol, path=info.path, size_bytes=max(vol.size_bytes, info.size_bytes)))
        run.undo.push(f"delete volume {vol.uuid}", lambda v=made[-1]: drv.delete_volume(v))
        percent = 20 + 40 * len(made) // len(spec.volumes)
        await run.batched(
            VOLUME, lambda s, v=vol, i=info, p=percent: _set_volume(run, s, v.uuid, i.path, i.size_bytes, p)
        )
    spec = replace(spec, volumes=tuple(made))
    await drv.create_instance(spec)
    run.undo.push("destroy guest", lambda: drv.destroy_instance(spec.uuid))
    for net_id in networks:
        await sync_router(app, net_id)
    start = bool(run.params.get("startvm", True))
    if start:
        await drv.start_instance(spec.uuid)
    out: dict[str, Any] = await run.batched(DEPLOYED, lambda s: _deployed(run, s, start))
    return out


def _allocation(run: JobRun, s: Session) -> tuple[int, Host, list[int], list[int], Any]:
    """The allocation phase of one deploy: rows, reservation and the driver spec built from them."""
    vm = s.connection().execute(VM_BY_UUID, {"v": run.instance_uuid}).one()  # read-only here: a Core row
    vm_id = vm.id or 0
    app = run.app
    run.undo.push("forget vm", lambda: _forget(app, vm_id))  # first: also covers a failed batch commit
    made = _allocate(s, vm, run.params)
    run.progress(20, s)
    s.flush()
    spec = instance_spec(s, vm, vols=made.volumes, nics=made.nics)
    return vm_id, made.host, made.networks, made.fresh, spec


def _set_volume(run: JobRun, s: Session, uuid: str, path: str, size: int, percent: int) -> None:
    """Record where a newly made disk lives, and the job's progress with it."""
    s.connection().execute(SET_VOLUME, {"u": uuid, "p": path, "sz": size})
    run.progress(percent, s)


VOLUMES, VMS = (m.__table__ for m in (Volume, VirtualMachine))  # type: ignore[attr-defined]
# Built once and run as Core statements on the session's connection (no session object reads these
# columns back; the placement query reads them in SQL). The size only grows (the driver may round it up).
SET_VOLUME = (
    VOLUMES.update()
    .where(VOLUMES.c.uuid == bindparam("u"))
    .values(
        path=bindparam("p"),
        state="Ready",
        size=case((VOLUMES.c.size < bindparam("sz"), bindparam("sz")), else_=VOLUMES.c.size),
    )
)
VM_BY_UUID = VMS.select().where(VMS.c.uuid == bindparam("v"))
PLACE_VM = (
    VMS.update()
    .where(VMS.c.id == bindparam("v"))
    .values(host_id=bindparam("h"), pod_id=bindparam("p"), last_host_id=bindparam("h"))
)


def _deployed(run: JobRun, s: Session, started: bool) -> tuple[VirtualMachine, JobRun]:
    """Mark a deployed VM Running (or Stopped when not started) and record events; the batch renders it."""
    vm = _vm(s, run.instance_uuid)
    if started:
        transition(vm, "started")
    else:
        release_host(s, vm.host_id, vm)
        vm.state, vm.host_id = "Stopped", None
    s.add(vm)
    _event(s, vm, "VM.CREATE", f"Successfully created VM {vm.name}")
    if started:
        _event(s, vm, "VM.START", f"Started VM {vm.name}")
    return vm, run


def _render_deployed(s: Session, done: list[Request]) -> None:
    """Complete the deployed VMs' jobs in this transaction (their results rendered in one batch per job owner)."""
    s.flush()
    owners: dict[int | None, list[Request]] = {}
    for req in done:
        owners.setdefault(req.result[1].user_id, []).append(req)
    for user_id, reqs in owners.items():
        engine = reqs[0].result[1].app.jobs
        results = engine.rendered(s, user_id, [Ref(VirtualMachine, r.result[0]) for r in reqs])
        for req, result in zip(reqs, results, strict=True):
            req.result[1].complete(s, result)
            req.result = result


ALLOCATE = Phase("deploy.allocate")
VOLUME = Phase("deploy.volume")
DEPLOYED = Phase("deploy.final", _render_deployed)


async def _forget(app: VirgaApp, vm_id: int) -> None:
    """Undo of a failed deploy: remove the VM's rows (driver objects are undone separately)."""
    with app.db.session() as s:
        vm = s.get(VirtualMachine, vm_id)
        if vm is None or vm.removed is not None:
            return
        nets = _networks_of(s, vm_id)
        _event(s, vm, "VM.CREATE", f"Failed to create VM {vm.name}; its resources were released", "ERROR")
        _release_rows(s, vm)
        s.commit()
    for net_id in nets:
        try:
            await sync_router(app, net_id)
        except Exception as exc:
            log.warning("router sync after failed deploy: %s", exc)


async def _unimplement(app: VirgaApp, network_ids: list[int], vm_id: int) -> None:
    """Undo of implementing a network for a failed deploy: release source NAT and the router."""
    from virga.services.network import destroy_router

    for net_id in network_ids:
        with app.db.session() as s:
            others = s.exec(
                select(Nic).where(Nic.network_id == net_id, Nic.vm_id != vm_id, Nic.removed == None)
            ).first()
            net = s.get(Network, net_id)
            if others is not None or net is None:
                continue
            for ip in s.exec(
                select(PublicIpAddress).where(PublicIpAddress.network_id == net_id, PublicIpAddress.issourcenat == True)
            ):
                ip.state, ip.issourcenat, ip.network_id, ip.account_id, ip.domain_id = "Free", False, None, None, None
                s.add(ip)
            net.state = "Allocated"
            s.add(net)
            s.commit()
        await destroy_router(app, net_id)


@job_recover("deployVirtualMachine")
async def recover_deploy(run: JobRun) -> None:
    """A deploy whose server died: remove the half-made VM everywhere."""
    with run.db() as s:
        vm = s.exec(select(VirtualMachine).where(VirtualMachine.uuid == run.instance_uuid)).first()
        vm_id = vm.id if vm else None
    if vm_id is not None:
        await purge(run.app, vm_id)


async def guest_state(app: VirgaApp, host: Host, uuid: str) -> PowerState | None:
    """The guest's power state on a host, or None when the host does not have it."""
    drv = await app.hosts.driver(host)
    try:
        return (await drv.get_instance(uuid)).state
    except InstanceNotFound:
        return None
