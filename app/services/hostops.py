"""Host job bodies: maintenance (evacuate by live migration, else stop), cancel, and reconnect."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from sqlmodel import Session, select
from virga.drivers.base import Capability, InstanceNotFound
from virga.errors import InsufficientCapacity, Unavailable
from virga.jobs.engine import JobRun, Ref, Restart, job_body, job_recover
from virga.models import Host, ServiceOffering, VirtualMachine, utcnow
from virga.services.capacity import place_vm, release_host
from virga.services.events import raise_alert, record_event
from virga.services.placement import Need, host_candidates
from virga.services.states import HostState, VmState, transition
from virga.services.vm import need_of

log = logging.getLogger(__name__)
MAX_TARGETS = 3


def _host(s: Session, uuid: str) -> Host:
    """A host by uuid."""
    return s.exec(select(Host).where(Host.uuid == uuid)).one()


def _event(s: Session, kind: str, text: str, resource: Any, level: str = "INFO") -> None:
    """Record an event of the system's admin account."""
    account_id = getattr(resource, "account_id", None)
    record_event(
        s,
        kind,
        text,
        account_id=account_id,
        domain_id=getattr(resource, "domain_id", None),
        resource=resource,
        level=level,
    )


def result(run: JobRun) -> Ref:
    """The job result: the host (rendered as the caller sees it)."""
    return Ref(Host, run.instance_uuid)


def _need(s: Session, host: Host, vm: VirtualMachine) -> Need:
    """What the VM needs from another host of its host's cluster."""
    return dataclasses.replace(
        need_of(vm, s.get(ServiceOffering, vm.serviceoffering_id)),
        cluster_id=host.cluster_id,
        hypervisor=host.hypervisor,
    )


def _targets(s: Session, host: Host, vm: VirtualMachine) -> list[Host]:
    """Enabled, Up hosts of the same cluster with room for the VM."""
    return host_candidates(s, _need(s, host, vm), exclude={host.id or 0}, limit=MAX_TARGETS)


async def _migrate(run: JobRun, src: Host, vm_uuid: str) -> bool:
    """Live-migrate a running VM to another host of the cluster; False when none could take it."""
    drv = await run.app.hosts.driver(src)
    if Capability.LIVE_MIGRATION not in drv.capabilities:
        return False
    with run.db() as s:
        vm = s.exec(select(VirtualMachine).where(VirtualMachine.uuid == vm_uuid)).one()
        targets = _targets(s, src, vm)
    for dst in targets:
        with run.db() as s:
            vm = s.exec(select(VirtualMachine).where(VirtualMachine.uuid == vm_uuid)).one()
            if vm.state != VmState.RUNNING:
                return vm.state in (VmState.STOPPED, VmState.DESTROYED, VmState.EXPUNGED)
            try:
                place_vm(s, vm, _need(s, src, vm), only=dst)  # re-checked under the placement lock
            except InsufficientCapacity:
                continue  # another placement took the room meanwhile
            transition(vm, "migrate")
            s.add(vm)
            s.commit()
        try:
            await drv.migrate_instance(vm_uuid, await run.app.hosts.driver(dst), live=True)
        except Exception as exc:  # any failure: undo the reservation and try the next host
            log.info("migrating %s to %s failed: %s", vm_uuid, dst.name, exc)
            _settle(run, vm_uuid, release=dst, host=src, event="migrate_failed")
            continue
        _settle(
            run,
            vm_uuid,
            release=src,
            host=dst,
            event="migrated",
            note=f"Migrated VM {vm.name} from {src.name} to {dst.name} for host maintenance",
        )
        return True
    return False


def _settle(run: JobRun, vm_uuid: str, *, release: Host, host: Host | None, event: str, note: str = "") -> None:
    """Release a host's reservation for a VM, move it through the event and record where it now is."""
    with run.db() as s:
        vm = s.exec(select(VirtualMachine).where(VirtualMachine.uuid == vm_uuid)).one()
        release_host(s, release.id, vm)
        transition(vm, event)
        vm.host_id = host.id if host else None
        vm.last_host_id = host.id if host else release.id
        if host is not None:
            vm.pod_id = host.pod_id
        if note:
            _event(s, "VM.MIGRATE" if host else "VM.STOP", note, vm)
        s.add(vm)
        s.commit()


async def _stop(run: JobRun, src: Host, vm_uuid: str) -> bool:
    """Stop a VM that could not move; False when the host would not stop it either."""
    try:
        await (await run.app.hosts.driver(src)).stop_instance(vm_uuid, force=False)
    except InstanceNotFound:
        pass
    except Exception as exc:  # a VM that neither moves nor stops leaves the host in ErrorInMaintenance
        log.info("stopping %s on %s failed: %s", vm_uuid, src.name, exc)
        return False
    with run.db() as s:
        name = s.exec(select(VirtualMachine.name).where(VirtualMachine.uuid == vm_uuid)).one()
    _settle(
        run,
        vm_uuid,
        release=src,
        host=None,
        event="stopped",
        note=f"Stopped VM {name}: no host of the cluster could take it during maintenance of {src.name}",
    )
    return True


@job_body("prepareHostForMaintenance", restart=Restart.RECONCILE)
async def prepare_maintenance(run: JobRun) -> Ref:
    """Move every running VM off the host (or stop it), then mark the host Maintenance."""
    run.undo.push("error in maintenance", lambda: _finish(run, "ErrorInMaintenance", []))
    with run.db() as s:
        host = _host(s, run.instance_uuid)
        vms = list(
            s.exec(
                select(VirtualMachine.uuid).where(
                    VirtualMachine.host_id == host.id,
                    VirtualMachine.removed == None,
                    VirtualMachine.state == VmState.RUNNING,
                )
            )
        )
    stuck: list[str] = []
    for i, vm_uuid in enumerate(vms):
        if not await _migrate(run, host, vm_uuid) and not await _stop(run, host, vm_uuid):
            stuck.append(vm_uuid)
        run.progress(int(100 * (i + 1) / max(len(vms), 1)))
    _finish(run, "ErrorInMaintenance" if stuck else "Maintenance", stuck)
    return result(run)


def _finish(run: JobRun, state: str, stuck: list[str]) -> None:
    """Record the host's maintenance outcome with an event (and an alert on error)."""
    with run.db() as s:
        host = _host(s, run.instance_uuid)
        if host.resourcestate != "PrepareForMaintenance":
            return
        host.resourcestate = state
        s.add(host)
        if stuck:
            text = f"Host {host.name} entered ErrorInMaintenance: {len(stuck)} VM(s) could neither move nor stop"
            raise_alert(
                s, "HOST", text, zone_id=host.zone_id, pod_id=host.pod_id, cluster_id=host.cluster_id, host_id=host.id
            )
            _event(s, "MAINT.PREPARE.PS", text, host, "ERROR")
        else:
            _event(s, "MAINT.PREPARE", f"Host {host.name} is in maintenance", host)
        s.commit()


@job_recover("prepareHostForMaintenance")
async def recover_prepare(run: JobRun) -> None:
    """An evacuation whose server died leaves the host in ErrorInMaintenance (prepare again to retry)."""
    _finish(run, "ErrorInMaintenance", ["unknown"])


@job_body("cancelHostMaintenance", restart=Restart.FAIL)
async def cancel_maintenance(run: JobRun) -> Ref:
    """Return a host to service."""
    with run.db() as s:
        host = _host(s, run.instance_uuid)
        host.resourcestate = "Enabled"
        _event(s, "MAINT.CANCEL", f"Host {host.name} left maintenance", host)
        s.add(host)
        s.commit()
    return result(run)


@job_body("reconnectHost", restart=Restart.RECONCILE)
async def reconnect(run: JobRun) -> Ref:
    """Drop the cached driver, connect again and refresh the host's facts: Up, or Disconnected on failure."""
    from virga.drivers.registry import make_driver
    from virga.services.hostpool import connection_of

    with run.db() as s:
        host = _host(s, run.instance_uuid)
        transition(host, "reconnect")
        s.add(host)
        s.commit()
    await run.app.hosts.drop(host.id or 0)
    drv = make_driver(host.hypervisor, connection_of(host))
    try:
        facts = await drv.connect()
    except Exception as exc:
        _mark_lost(run, str(exc))
        raise Unavailable(f"Unable to reconnect to host {host.name}: {exc}") from None
    finally:
        await drv.close()
    with run.db() as s:
        host = _host(s, run.instance_uuid)
        host.cpunumber, host.cpuspeed, host.memorytotal = facts.cpu_count, facts.cpu_mhz, facts.memory_bytes
        host.hypervisorversion, host.cpumodel = facts.hypervisor_version, facts.cpu_model
        host.lastpinged, host.disconnected = utcnow(), None
        transition(host, "connected")
        _event(s, "HOST.RECONNECT", f"Reconnected to host {host.name}", host)
        s.add(host)
        s.commit()
    return result(run)


def _mark_lost(run: JobRun, why: str) -> None:
    """Record a failed reconnection."""
    with run.db() as s:
        host = _host(s, run.instance_uuid)
        transition(host, "lost")
        host.disconnected = utcnow()
        _event(s, "HOST.RECONNECT", f"Unable to reconnect to host {host.name}: {why}", host, "ERROR")
        s.add(host)
        s.commit()


@job_recover("reconnectHost")
async def recover_reconnect(run: JobRun) -> None:
    """A reconnection whose server died leaves the host Disconnected; the monitor or a new call fixes it."""
    with run.db() as s:
        host = _host(s, run.instance_uuid)
        if host.state == HostState.CONNECTING:
            transition(host, "reconnect_lost")
            s.add(host)
            s.commit()
