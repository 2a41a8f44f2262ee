"""Deploying a VM: the request's record (the VM row in state Starting), then the deploy job (place, allocate,
create, start; any failure removes everything it made) and its recovery."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, case
from sqlmodel import Session, select
from virga.context import Ctx
from virga.db import by_column, insert_row, memo
from virga.jobs.batch import Phase, Request
from virga.jobs.engine import JobRun, Ref, Restart, job_body, job_recover
from virga.jobs.pending import Pending
from virga.models import (
    DiskOffering,
    Host,
    Network,
    Nic,
    PublicIpAddress,
    ServiceOffering,
    Template,
    VirtualMachine,
    Volume,
)
from virga.services import ipam
from virga.services.capacity import allocate_pool, place_vm, release_host
from virga.services.network import implement, sync_router
from virga.services.placement import choose_pool
from virga.services.rules import attach_security_groups
from virga.services.specs import instance_spec
from virga.services.states import VmState, VolumeState, core_transition, transition
from virga.services.vm import _event, _networks_of, _vm, need_of
from virga.services.vmlifecycle import _release_rows, purge

if TYPE_CHECKING:
    from virga.core import VirgaApp

log = logging.getLogger(__name__)
VOLUMES, VMS = (m.__table__ for m in (Volume, VirtualMachine))
# Built once and run as Core statements on the session's connection (no session object reads these
# columns back; the placement query reads them in SQL). The size only grows (the driver may round it up).
NAME_VM = (
    VMS.update()
    .where(VMS.c.id == bindparam("v"))
    .values(instancename=bindparam("i"), name=bindparam("n"), displayname=bindparam("d"))
)
SET_VOLUME = core_transition(
    Volume,
    "created",
    VOLUMES.c.uuid == bindparam("u"),
    path=bindparam("p"),
    size=case((VOLUMES.c.size < bindparam("sz"), bindparam("sz")), else_=VOLUMES.c.size),
)
VM_BY_UUID = VMS.select().where(VMS.c.uuid == bindparam("v"))
PLACE_VM = (
    VMS.update()
    .where(VMS.c.id == bindparam("v"))
    .values(host_id=bindparam("h"), pod_id=bindparam("p"), last_host_id=bindparam("h"))
)


def record(
    ctx: Ctx,
    row: dict[str, Any],
    name: str,
    displayname: str | None,
    nets: list[Network],
    securitygroupids: list[str] | None,
    params: dict[str, Any],
) -> Pending:
    """Record a validated VM in state Starting (a Core insert: deploy's hot path) and hand its job over.

    `row` holds the VM's columns; the instance name needs the id, so a second (Core) statement sets it.
    """
    vm = insert_row(ctx.db, VirtualMachine, {**row, "name": name or "pending", "state": VmState.STARTING})
    account_id = row["account_id"]
    ctx.db.connection().execute(
        NAME_VM,
        {"v": vm.id, "i": f"i-{account_id}-{vm.id}-VM", "n": name or vm.uuid, "d": displayname or name or vm.uuid},
    )
    attach_security_groups(ctx.db, vm, nets, securitygroupids)
    return Pending("VirtualMachine", vm.uuid, params)


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
                    "state": VolumeState.CREATING,
                },
            )
        )
    for i, net_uuid in enumerate(params.get("networkids") or []):

        def network(u: str = net_uuid) -> Network:
            """The network by uuid (read once per session)."""
            return s.exec(by_column(Network, "uuid"), params={"v": u}).one()

        net = memo(s, (Network, net_uuid), network)
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


@job_body("deployVirtualMachine", restart=Restart.RECONCILE)
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
        run.undo.push(f"delete volume {vol.uuid}", partial(drv.delete_volume, made[-1]))
        percent = 20 + 40 * len(made) // len(spec.volumes)
        await run.batched(
            VOLUME, partial(_set_volume, run, uuid=vol.uuid, path=info.path, size=info.size_bytes, percent=percent)
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


def _deployed(run: JobRun, s: Session, started: bool) -> tuple[VirtualMachine, JobRun]:
    """Mark a deployed VM Running (or Stopped when not started) and record events; the batch renders it."""
    vm = _vm(s, run.instance_uuid)
    if started:
        transition(vm, "started")
    else:
        release_host(s, vm.host_id, vm)
        transition(vm, "deployed")
        vm.host_id = None
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
                transition(ip, "free")
                ip.issourcenat, ip.network_id, ip.account_id, ip.domain_id = False, None, None, None
                s.add(ip)
            transition(net, "unimplement")
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
