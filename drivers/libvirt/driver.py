"""LibvirtDriver: the KVM/QEMU hypervisor driver, every blocking libvirt call in a thread."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar, TypeVar

import libvirt
from virga.drivers.base import (
    Capability,
    ConsoleInfo,
    Driver,
    HostConnection,
    HostFacts,
    HostUnreachable,
    InstanceEvent,
    InstanceInfo,
    InstanceSpec,
    InstanceStats,
    InvalidSpec,
    NotSupported,
    PoolSpec,
    PoolStats,
    SnapshotInfo,
    TemplateSpec,
    VolumeInfo,
    VolumeSpec,
)
from virga.drivers.libvirt import domains, events, host, snapshots, stats, storage
from virga.drivers.libvirt.console import SerialConsole
from virga.drivers.libvirt.domain_xml import render_domain
from virga.drivers.libvirt.errors import translate
from virga.drivers.libvirt.states import STATE_MAP

T = TypeVar("T")
log = logging.getLogger(__name__)


class LibvirtDriver(Driver):
    """One libvirt connection (qemu:///system, qemu+ssh://..., test:///...) to one KVM host."""

    hypervisor: ClassVar[str] = "KVM"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.LIVE_MIGRATION,
            Capability.COLD_MIGRATION,
            Capability.DISK_SNAPSHOT,
            Capability.VM_SNAPSHOT,
            Capability.MEMORY_SNAPSHOT,
            Capability.HOT_PLUG_VOLUME,
            Capability.SUSPEND,
            Capability.RESIZE_VOLUME,
            Capability.MIGRATE_VOLUME,
            Capability.SERIAL_CONSOLE,
            Capability.VNC_CONSOLE,
            Capability.EVENTS,
            Capability.STATS,
        }
    )
    disk_formats: ClassVar[tuple[str, ...]] = ("QCOW2", "RAW", "ISO")
    traffic_label: ClassVar[str | None] = "kvmnetworklabel"
    STATE_MAP: ClassVar[Any] = STATE_MAP

    def __init__(self, conn: HostConnection) -> None:
        """Remember the host; connect() opens the libvirt connection."""
        super().__init__(conn)
        self._virt: libvirt.virConnect | None = None
        self.domain_type = conn.options.get("domain_type", "qemu")
        self.log_dir = conn.options.get("console_log_dir", "/var/log/libvirt/qemu")
        self.shutdown_timeout = float(conn.options.get("shutdown_timeout", "60"))
        self._samples: dict[str, tuple[float, int]] = {}

    # --- plumbing -------------------------------------------------------------
    async def _run(self, fn: Callable[..., T], *args: Any, what: str = "") -> T:
        """Run a blocking libvirt call in a thread, translating its errors."""
        try:
            return await asyncio.to_thread(fn, *args)
        except libvirt.libvirtError as err:
            raise translate(err, what) from err

    def _open(self) -> libvirt.virConnect:
        """Open the libvirt connection (blocking), with credentials when given."""
        events.ensure_event_loop()
        url = self.conn.url
        if self.conn.password is None:
            virt = libvirt.open(url)
        else:

            def creds(cred: list[list[Any]], _opaque: object) -> int:
                """Answer libvirt's credential questions."""
                for c in cred:
                    c[4] = self.conn.username if c[0] == libvirt.VIR_CRED_AUTHNAME else self.conn.password
                return 0

            auth = [[libvirt.VIR_CRED_AUTHNAME, libvirt.VIR_CRED_PASSPHRASE], creds, None]
            virt = libvirt.openAuth(url, auth, 0)
        if not url.startswith("test:"):
            try:
                virt.setKeepAlive(5, 3)
            except libvirt.libvirtError:
                pass
        return virt

    @property
    def virt(self) -> libvirt.virConnect:
        """The open libvirt connection; HostUnreachable before connect()."""
        if self._virt is None:
            raise HostUnreachable(f"not connected to {self.conn.url}")
        return self._virt

    async def _dom(self, uuid: str) -> libvirt.virDomain:
        """A domain by uuid (InstanceNotFound when absent)."""
        return await self._run(domains.lookup, self.virt, uuid)

    async def _info(self, uuid: str) -> InstanceInfo:
        """InstanceInfo of a domain by uuid."""
        return await self._run(domains.to_info, await self._dom(uuid))

    # --- host -----------------------------------------------------------------
    async def connect(self) -> HostFacts:
        """Open the connection (once), pick the domain type and return the host's facts."""
        if self._virt is None:
            self._virt = await self._run(self._open, what=f"cannot connect to {self.conn.url}")
        facts, self.domain_type = await self._run(host.facts, self._virt, self.conn.options, self.hypervisor)
        if self._log_local() and (problem := host.kvm_device_problem()):
            log.warning("%s: every define/start will be slow: %s", self.conn.url, problem)
        return facts

    async def close(self) -> None:
        """Close the libvirt connection."""
        virt, self._virt = self._virt, None
        if virt is not None:
            try:
                await asyncio.to_thread(virt.close)
            except libvirt.libvirtError:
                pass

    async def ping(self) -> None:
        """Raise HostUnreachable unless libvirt answers."""
        try:
            alive = await asyncio.to_thread(self.virt.isAlive)
            await asyncio.to_thread(self.virt.getLibVersion)
        except libvirt.libvirtError as err:
            raise HostUnreachable(f"{self.conn.url}: {err.get_error_message()}") from err
        if not alive:
            raise HostUnreachable(f"{self.conn.url}: connection is closed")

    async def list_instances(self) -> list[InstanceInfo]:
        """Every domain on the host."""
        doms = await self._run(self.virt.listAllDomains, 0)
        return [await self._run(domains.to_info, d) for d in doms]

    async def get_instance(self, uuid: str) -> InstanceInfo:
        """One domain; InstanceNotFound when absent."""
        return await self._info(uuid)

    # --- storage --------------------------------------------------------------
    async def prepare_volume(self, vol: VolumeSpec, template: TemplateSpec | None) -> VolumeInfo:
        """A root overlay on the template's cached base, or a blank qcow2."""
        return await self._run(storage.prepare, self.virt, vol, template, what=f"preparing volume {vol.name}")

    async def delete_volume(self, vol: VolumeSpec) -> None:
        """Delete a volume; absent is fine."""
        await self._run(storage.delete, self.virt, vol, what=f"deleting volume {vol.name}")

    async def resize_volume(self, vol: VolumeSpec, size_bytes: int) -> VolumeInfo:
        """Grow a volume."""
        return await self._run(storage.resize, self.virt, vol, size_bytes, what=f"resizing volume {vol.name}")

    async def migrate_volume(self, vol: VolumeSpec, target: PoolSpec) -> VolumeInfo:
        """Copy a (not running) disk to another pool as a standalone qcow2 and remove the source."""
        return await self._run(storage.migrate, self.virt, vol, target, what=f"migrating volume {vol.name}")

    async def pool_stats(self, pool: PoolSpec) -> PoolStats:
        """Capacity and use of a pool."""
        return await self._run(storage.stats, self.virt, pool)

    async def release_pool(self, pool: PoolSpec) -> None:
        """Stop and undefine the libvirt storage pool defined for this primary pool; its files stay."""
        await self._run(storage.release, self.virt, pool, what=f"releasing storage pool {pool.name}")

    # --- lifecycle ------------------------------------------------------------
    async def create_instance(self, spec: InstanceSpec) -> InstanceInfo:
        """Define a domain from the spec (not started)."""
        xml = render_domain(spec, self.domain_type, self.log_dir)
        dom = await self._run(self.virt.defineXML, xml, what=f"defining {spec.name}")
        return await self._run(domains.to_info, dom)

    async def start_instance(self, uuid: str) -> InstanceInfo:
        """Power a domain on."""
        await self._run(domains.start, await self._dom(uuid), what="starting")
        return await self._info(uuid)

    async def stop_instance(self, uuid: str, force: bool = False) -> InstanceInfo:
        """ACPI shutdown with a timeout then power off, or power off at once."""
        await self._run(domains.stop, await self._dom(uuid), force, self.shutdown_timeout, what="stopping")
        return await self._info(uuid)

    async def reboot_instance(self, uuid: str) -> InstanceInfo:
        """Reboot a running domain (ACPI; QEMU restarts it when the guest powers off)."""
        dom = await self._dom(uuid)
        await self._run(dom.reboot, 0, what="rebooting")
        return await self._info(uuid)

    async def destroy_instance(self, uuid: str) -> None:
        """Power off and undefine."""
        await self._run(domains.destroy, await self._dom(uuid), what="destroying")
        self._samples.pop(uuid, None)

    async def suspend_instance(self, uuid: str) -> InstanceInfo:
        """Pause a running domain."""
        await self._run((await self._dom(uuid)).suspend, what="suspending")
        return await self._info(uuid)

    async def resume_instance(self, uuid: str) -> InstanceInfo:
        """Resume a paused domain."""
        await self._run((await self._dom(uuid)).resume, what="resuming")
        return await self._info(uuid)

    async def scale_instance(self, uuid: str, cpus: int, memory_mb: int) -> InstanceInfo:
        """Change a stopped domain's CPUs and memory."""
        await self._run(domains.scale, self.virt, await self._dom(uuid), cpus, memory_mb, what="scaling")
        return await self._info(uuid)

    async def attach_volume(self, uuid: str, vol: VolumeSpec) -> None:
        """Attach a disk, hot-plugged when running."""
        await self._run(domains.attach, await self._dom(uuid), vol, what=f"attaching {vol.name}")

    async def detach_volume(self, uuid: str, vol: VolumeSpec) -> None:
        """Detach a disk."""
        await self._run(domains.detach, await self._dom(uuid), vol, what=f"detaching {vol.name}")

    # --- snapshots ------------------------------------------------------------
    async def snapshot_volume(self, vol: VolumeSpec, name: str) -> SnapshotInfo:
        """A full copy of the volume in its pool."""
        return await self._run(snapshots.snapshot_volume, self.virt, vol, name, what="disk snapshot")

    async def revert_volume_snapshot(self, vol: VolumeSpec, snap: SnapshotInfo) -> None:
        """Restore a volume from its snapshot copy."""
        await self._run(snapshots.revert_volume, self.virt, vol, snap, what="reverting disk snapshot")

    async def delete_volume_snapshot(self, vol: VolumeSpec, snap: SnapshotInfo) -> None:
        """Delete a snapshot copy."""
        await self._run(snapshots.delete_volume_snapshot, self.virt, snap, what="deleting disk snapshot")

    async def snapshot_instance(self, uuid: str, name: str, memory: bool) -> SnapshotInfo:
        """An internal VM snapshot (with memory when running)."""
        return await self._run(snapshots.snapshot_domain, await self._dom(uuid), name, memory, what="VM snapshot")

    async def revert_instance_snapshot(self, uuid: str, snap: SnapshotInfo) -> InstanceInfo:
        """Roll back to a VM snapshot."""
        await self._run(snapshots.revert_domain, await self._dom(uuid), snap, what="reverting VM snapshot")
        return await self._info(uuid)

    async def delete_instance_snapshot(self, uuid: str, snap: SnapshotInfo) -> None:
        """Delete a VM snapshot."""
        await self._run(snapshots.delete_domain_snapshot, await self._dom(uuid), snap, what="deleting VM snapshot")

    # --- migration, stats, console, events --------------------------------------
    async def migrate_instance(self, uuid: str, target: Driver, live: bool) -> InstanceInfo:
        """Cold: define on the target then undefine here. Live: libvirt peer-to-peer migration."""
        if not isinstance(target, LibvirtDriver):
            raise NotSupported("KVM instances can only migrate to another KVM host")
        dom = await self._dom(uuid)
        if live:
            await self._run(domains.live_migrate, dom, target.conn.url, what="live migration")
        else:
            await self._run(domains.cold_migrate, dom, target.virt, target.domain_type, what="cold migration")
        self._samples.pop(uuid, None)
        return await target.get_instance(uuid)

    async def instance_stats(self, uuid: str) -> InstanceStats:
        """CPU, memory, block and interface counters."""
        return await self._run(stats.collect, self.virt, await self._dom(uuid), self._samples, what="stats")

    async def console(self, uuid: str) -> ConsoleInfo:
        """The serial console: reachable through open_console() or `virsh console`."""
        dom = await self._dom(uuid)
        return ConsoleInfo(kind="serial", location=f"virsh -c {self.conn.url} console {dom.name()}")

    def _log_local(self) -> bool:
        """Whether libvirt runs on this machine (its log files are readable here)."""
        return self.conn.url.split("?")[0] in ("qemu:///system", "qemu:///session")

    def _log_path(self, dom: libvirt.virDomain) -> str:
        """The console log file of a domain when libvirt runs on this machine (else empty)."""
        return f"{self.log_dir.rstrip('/')}/{dom.name()}.console.log" if self._log_local() else ""

    async def open_console(self, uuid: str, force: bool = True) -> SerialConsole:
        """An interactive serial console stream (close it when done)."""
        dom = await self._dom(uuid)
        if not await self._run(dom.isActive):
            raise InvalidSpec(f"{dom.name()} is not running: its serial console is not available")
        try:
            return await SerialConsole(self.virt, dom, self._log_path(dom)).open(force)
        except libvirt.libvirtError as err:
            raise translate(err, "opening the console") from err

    async def start_with_console(self, uuid: str) -> SerialConsole:
        """Start a stopped guest paused, attach its serial console, then let it run (no output is missed)."""
        dom = await self._dom(uuid)
        await self._run(dom.createWithFlags, libvirt.VIR_DOMAIN_START_PAUSED, what="starting")
        try:
            console = await SerialConsole(self.virt, dom).open(True)
        except libvirt.libvirtError as err:
            raise translate(err, "opening the console") from err
        await self._run(dom.resume, what="starting")
        return console

    async def events(self) -> AsyncIterator[InstanceEvent]:
        """Lifecycle events of every domain on the host."""
        async for event in events.lifecycle_events(self.virt):
            yield event
