"""Host health and guest state sync: what the hypervisors say wins over what the database thinks."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select
from virga.drivers.base import InstanceInfo, PowerState
from virga.models import Alert, AsyncJob, Host, User, VirtualMachine, utcnow
from virga.services.bootstrap import setting
from virga.services.capacity import release_host
from virga.services.events import raise_alert, record_event
from virga.services.states import HostState, VmState, can, transition

if TYPE_CHECKING:
    from virga.core import VirgaApp

log = logging.getLogger(__name__)
MB = 2**20


async def sync_all(app: VirgaApp) -> None:
    """Ping every host and reconcile the guests of those that answer."""
    with app.db.session() as s:
        hosts = s.exec(select(Host).where(Host.removed == None, Host.type == "Routing")).all()
    for host in hosts:
        await sync_host(app, host)


async def sync_host(app: VirgaApp, host: Host) -> None:
    """Ping one host, update its state, and reconcile its guests."""
    try:
        drv = await app.hosts.driver(host)
        await drv.ping()
        guests = await drv.list_instances()
    except Exception as exc:
        await app.hosts.drop(host.id or 0)
        host_lost(app, host.id or 0, str(exc))
        return
    host_back(app, host.id or 0)
    reconcile(app, host.id or 0, guests)


def host_lost(app: VirgaApp, host_id: int, why: str) -> None:
    """Up -> Disconnected at once; Disconnected -> Down after ping.timeout x ping.interval (alerts)."""
    restarted = 0
    with app.db.session() as s:
        host = s.get(Host, host_id)
        if host is None:
            return
        now = utcnow()
        if can(host, "lost"):  # Up, Connecting, Alert
            transition(host, "lost")
            host.disconnected = now
            raise_alert(
                s,
                "HOST",
                f"Host {host.name} is disconnected: {why}",
                host_id=host.id,
                zone_id=host.zone_id,
                pod_id=host.pod_id,
                cluster_id=host.cluster_id,
            )
        elif host.state == HostState.DISCONNECTED:
            grace = float(setting(s, "ping.interval", "30")) * float(setting(s, "ping.timeout", "2.5"))
            if host.disconnected and now - host.disconnected > timedelta(seconds=grace):
                transition(host, "down")
                raise_alert(
                    s,
                    "HOST",
                    f"Host {host.name} is down",
                    host_id=host.id,
                    zone_id=host.zone_id,
                    pod_id=host.pod_id,
                    cluster_id=host.cluster_id,
                )
                restarted = _restart_ha(app, s, host, _vms_lost(s, host))
        s.add(host)
        s.commit()
    if restarted:
        app.jobs.notify()


def _restart_ha(app: VirgaApp, s: Session, host: Host, vms: list[VirtualMachine]) -> int:
    """Queue a start job (placed on another Up host) for each HA-enabled VM of a Down host."""
    for vm in vms:
        transition(vm, "start")
        user = s.exec(select(User).where(User.account_id == vm.account_id, User.removed == None)).first()
        app.jobs.submit(
            s,
            AsyncJob(
                cmd="virga.api.startVirtualMachine",
                command="startVirtualMachine",
                params={},
                account_id=vm.account_id,
                domain_id=vm.domain_id,
                user_id=user.id if user else None,
                instancetype="VirtualMachine",
                instance_uuid=vm.uuid,
            ),
        )
        record_event(
            s,
            "HA.VM.RESTART",
            f"VM {vm.name} is restarted on another host: its host {host.name} is down",
            account_id=vm.account_id,
            domain_id=vm.domain_id,
            resource=vm,
            level="WARN",
        )
        raise_alert(
            s,
            "HA",
            f"HA restart of VM {vm.name} (host {host.name} is down)",
            host_id=host.id,
            zone_id=host.zone_id,
            pod_id=host.pod_id,
            cluster_id=host.cluster_id,
        )
        s.add(vm)
    return len(vms)


def _vms_lost(s: Session, host: Host) -> list[VirtualMachine]:
    """The VMs of a Down host are Stopped; the HA-enabled ones are returned to be restarted elsewhere."""
    ha = []
    for vm in s.exec(select(VirtualMachine).where(VirtualMachine.host_id == host.id, VirtualMachine.removed == None)):
        if vm.state in ("Running", "Starting", "Stopping", "Migrating"):
            release_host(s, host.id, vm)
            transition(vm, "seen_stopped")
            vm.last_host_id, vm.host_id = host.id, None
            record_event(
                s,
                "VM.STOP",
                f"VM {vm.name} stopped: its host {host.name} is down",
                account_id=vm.account_id,
                domain_id=vm.domain_id,
                resource=vm,
                level="WARN",
            )
            if vm.haenable:
                ha.append(vm)
            s.add(vm)
    return ha


def host_back(app: VirgaApp, host_id: int) -> None:
    """A host that answers is Up."""
    with app.db.session() as s:
        host = s.get(Host, host_id)
        if host is None or host.state == HostState.UP or not can(host, "connected"):
            if host is not None:
                host.lastpinged = utcnow()
                s.add(host)
                s.commit()
            return
        record_event(s, "HOST.RECONNECT", f"Host {host.name} is back ({host.state} -> Up)", resource=host)
        transition(host, "connected")
        host.lastpinged, host.disconnected = utcnow(), None
        s.add(host)
        s.commit()


def _busy(s: Session, uuids: list[str]) -> set[str]:
    """VMs with a job queued or running (their state is the job's business)."""
    if not uuids:
        return set()
    stmt = select(AsyncJob.instance_uuid).where(
        col(AsyncJob.instance_uuid).in_(uuids),
        col(AsyncJob.state).in_(("queued", "running")),
    )
    return set(s.exec(stmt))


def reconcile(app: VirgaApp, host_id: int, guests: list[InstanceInfo]) -> None:
    """Match the database to a host's guests: lost guests stop, unknown ones raise an alert."""
    seen = {g.uuid: g for g in guests}
    with app.db.session() as s:
        host = s.get(Host, host_id)
        assert host is not None
        vms = s.exec(
            select(VirtualMachine).where(VirtualMachine.host_id == host_id, VirtualMachine.removed == None)
        ).all()
        busy = _busy(s, [v.uuid for v in vms])
        for vm in vms:
            if vm.uuid in busy or vm.state != VmState.RUNNING:
                continue
            info = seen.get(vm.uuid)
            if info is None or info.state == PowerState.STOPPED:
                release_host(s, host_id, vm)
                transition(vm, "lost")
                vm.last_host_id, vm.host_id = host_id, None
                record_event(
                    s,
                    "VM.STOP",
                    f"VM {vm.name} was powered off outside virga (host {host.name})",
                    account_id=vm.account_id,
                    domain_id=vm.domain_id,
                    resource=vm,
                    level="WARN",
                )
                s.add(vm)
        _unknown_guests(s, host, seen)
        s.commit()


def _unknown_guests(s: Session, host: Host, seen: dict[str, InstanceInfo]) -> None:
    """Raise one alert per guest the host has that virga does not know (never delete it)."""
    if not seen:
        return
    known = set(s.exec(select(col(VirtualMachine.uuid)).where(col(VirtualMachine.uuid).in_(list(seen)))))
    for uuid, info in seen.items():
        if uuid in known:
            continue
        subject = f"Unknown guest {info.name} ({uuid}) on host {host.name}"
        if s.exec(select(Alert).where(Alert.subject == subject, Alert.archived == False)).first() is None:
            raise_alert(
                s,
                "SYNC",
                subject,
                "virga did not create this guest and leaves it alone",
                host_id=host.id,
                zone_id=host.zone_id,
            )
