"""The vSphere driver: one vCenter (optionally one host inside it) or one ESXi host, via pyvmomi."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar, TypeVar

from pyVmomi import vim
from virga.drivers.base import (
    Capability,
    Driver,
    HostConnection,
    HostFacts,
    InstanceEvent,
    InstanceInfo,
    InstanceStats,
    Inventory,
    NotSupported,
    PoolSpec,
    PoolStats,
    SnapshotInfo,
    TemplateSpec,
    VolumeInfo,
    VolumeSpec,
)
from virga.drivers.vmware import inventory as inv
from virga.drivers.vmware import ops, provision, specs
from virga.drivers.vmware.errors import UNSUPPORTED, faults
from virga.drivers.vmware.events import Watcher
from virga.drivers.vmware.lifecycle import LifecycleMixin
from virga.drivers.vmware.perf import PerfReader
from virga.drivers.vmware.session import ProgressCallback, Session, endpoint
from virga.drivers.vmware.states import STATE_MAP

T = TypeVar("T")
EVENT_WAIT_SECONDS = 2


class VMwareDriver(LifecycleMixin, Driver):
    """vSphere through pyvmomi; blocking SOAP calls run in worker threads."""

    hypervisor: ClassVar[str] = "VMware"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.LIVE_MIGRATION,
            Capability.COLD_MIGRATION,
            Capability.VM_SNAPSHOT,
            Capability.MEMORY_SNAPSHOT,
            Capability.HOT_PLUG_VOLUME,
            Capability.SUSPEND,
            Capability.EVENTS,
            Capability.STATS,
        }
    )
    disk_formats: ClassVar[tuple[str, ...]] = ("OVA", "ISO")
    traffic_label: ClassVar[str | None] = "vmwarenetworklabel"
    STATE_MAP = STATE_MAP

    def __init__(self, conn: HostConnection, progress: ProgressCallback | None = None) -> None:
        """Remember the connection; `progress(what, percent)` is told about task progress."""
        super().__init__(conn)
        self.progress = progress
        self.endpoint = endpoint(conn)
        self._session: Session | None = None
        self._where: provision.Placement | None = None
        self._scope: vim.HostSystem | None = None
        self._facts: HostFacts | None = None
        self._lock = asyncio.Lock()
        self.perf = PerfReader()

    # --- plumbing -----------------------------------------------------------
    async def _run(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking call in a thread, typing its errors (callers connect() first)."""

        def call() -> T:
            """The call, with vSphere faults mapped to driver errors."""
            with faults(what):
                return fn(*args)

        return await asyncio.to_thread(call)

    @property
    def session(self) -> Session:
        """The live session (connect() must have run)."""
        assert self._session is not None, "connect() first"
        return self._session

    @property
    def where(self) -> provision.Placement:
        """Where new VMs and volumes go."""
        assert self._where is not None, "connect() first"
        return self._where

    def _open(self) -> HostFacts:
        """Log in, pick the host this driver addresses and read its facts (blocking)."""
        s = Session(self.endpoint)
        with faults("reading the vSphere inventory"):
            wanted = str(self.conn.options.get("host", ""))
            row = inv.pick_host(s, wanted)
            self._where = provision.Placement(row["_obj"], str(self.conn.options.get("guest_network", "")))
            self._scope = row["_obj"] if wanted or not s.is_vcenter else None
            self._session = s
            return inv.host_facts(s, row)

    async def _vm(self, uuid: str) -> vim.VirtualMachine:
        """The VM with this uuid within this driver's scope."""
        await self.connect()
        return await self._run(f"finding virtual machine {uuid}", inv.find_vm, self.session, uuid, self._scope)

    # --- host -----------------------------------------------------------------
    async def connect(self) -> HostFacts:
        """Log in (once) and return the addressed host's facts."""
        async with self._lock:
            if self._facts is None:
                self._facts = await asyncio.to_thread(self._open)
        return self._facts

    async def close(self) -> None:
        """Log out."""
        if self._session is not None:
            await asyncio.to_thread(self._session.close)
        self._session, self._facts = None, None

    async def ping(self) -> None:
        """Ask the server for its clock; HostUnreachable when it does not answer."""
        await self.connect()
        await self._run("pinging the vSphere server", lambda: self.session.si.CurrentTime())

    async def discover(self) -> Inventory:
        """Datacenters, clusters' hosts, datastores, port groups and templates."""
        await self.connect()
        return await self._run("discovering the vSphere inventory", inv.discover, self.session, self.conn)

    async def list_instances(self) -> list[InstanceInfo]:
        """Every VM (not template) in scope."""
        await self.connect()
        rows = await self._run("listing virtual machines", inv.vm_rows, self.session, self._scope)
        return [inv.to_instance(r) for r in rows if r.get("config.instanceUuid") or r.get("config.uuid")]

    async def get_instance(self, uuid: str) -> InstanceInfo:
        """One VM by uuid; InstanceNotFound when absent."""
        vm = await self._vm(uuid)
        row = await self._run(f"reading virtual machine {uuid}", self.session.props, vm, inv.VM_PROPS)
        return inv.to_instance(row)

    # --- storage --------------------------------------------------------------
    async def prepare_volume(self, vol: VolumeSpec, template: TemplateSpec | None) -> VolumeInfo:
        """A vmdk under [datastore] virga/: blank, or a copy of a vSphere template's disk."""
        await self.connect()
        return await self._run(
            f"preparing volume {vol.name}",
            provision.prepare_volume,
            self.session,
            self.where,
            vol,
            template,
            self.progress,
        )

    async def delete_volume(self, vol: VolumeSpec) -> None:
        """Delete the volume's vmdk; absent is fine."""
        await self.connect()
        await self._run(
            f"deleting volume {vol.name}", provision.delete_volume, self.session, self.where, vol, self.progress
        )

    async def pool_stats(self, pool: PoolSpec) -> PoolStats:
        """Capacity and free space of the datastore named by the pool."""

        def read() -> PoolStats:
            """Read the datastore summary."""
            ds = self.where.datastore(self.session, specs.datastore_name(pool))
            row = self.session.props(ds, ["summary.capacity", "summary.freeSpace"])
            cap = int(row.get("summary.capacity", 0))
            return PoolStats(capacity_bytes=cap, used_bytes=cap - int(row.get("summary.freeSpace", 0)))

        await self.connect()
        return await self._run(f"reading datastore {pool.name}", read)

    async def release_pool(self, pool: PoolSpec) -> None:
        """Nothing to undo: the datastore belongs to vSphere; the virga/ folder of volumes on it stays."""

    # --- snapshots, migration, stats, events -------------------------------------
    async def snapshot_instance(self, uuid: str, name: str, memory: bool) -> SnapshotInfo:
        """CreateSnapshot_Task."""
        vm = await self._vm(uuid)
        return await self._run(f"snapshotting {uuid}", ops.snapshot, self.session, vm, name, memory, self.progress)

    async def revert_instance_snapshot(self, uuid: str, snap: SnapshotInfo) -> InstanceInfo:
        """RevertToSnapshot_Task."""
        vm = await self._vm(uuid)
        await self._run(f"reverting {uuid}", ops.revert, self.session, vm, snap, self.progress)
        return await self.get_instance(uuid)

    async def delete_instance_snapshot(self, uuid: str, snap: SnapshotInfo) -> None:
        """RemoveSnapshot_Task."""
        vm = await self._vm(uuid)
        await self._run(f"removing snapshot of {uuid}", ops.remove_snapshot, self.session, vm, snap, self.progress)

    async def migrate_instance(self, uuid: str, target: Driver, live: bool) -> InstanceInfo:
        """RelocateVM_Task to the target driver's host (same vCenter only)."""
        same = isinstance(target, VMwareDriver) and (target.endpoint.host, target.endpoint.port) == (
            self.endpoint.host,
            self.endpoint.port,
        )
        if not same:
            raise NotSupported(f"migration between different vSphere servers is {UNSUPPORTED}")
        assert isinstance(target, VMwareDriver)
        await target.connect()
        host = target.where.host
        return await self.relocate_instance(uuid, host=host._moId, datastore=None, live=live, target=target)

    async def relocate_instance(
        self, uuid: str, host: str | None, datastore: str | None, live: bool = False, target: VMwareDriver | None = None
    ) -> InstanceInfo:
        """Move a VM to another host (name or moref) and/or another datastore of the datacenter."""
        vm = await self._vm(uuid)

        def move() -> None:
            """Resolve the destination and run RelocateVM_Task."""
            dest = provision.Placement(inv.pick_host(self.session, host)["_obj"]) if host else None
            ds = self.where.datastore(self.session, datastore) if datastore else None
            spec = specs.relocate_spec(dest.host if dest else None, dest.pool if dest else None, ds)
            ops.relocate(self.session, vm, spec, live, self.progress)

        await self._run(f"relocating {uuid}", move)
        return await (target or self).get_instance(uuid)

    async def instance_stats(self, uuid: str) -> InstanceStats:
        """CPU and memory from quick stats; disk/network totals from realtime perf samples (None if unknown)."""
        vm = await self._vm(uuid)
        return await self._run(f"reading stats of {uuid}", ops.stats, self.session, vm, uuid, self.perf)

    async def events(self) -> AsyncIterator[InstanceEvent]:
        """Power-state changes of VMs in scope, from WaitForUpdatesEx."""
        await self.connect()
        watcher = await self._run("watching power states", Watcher, self.session, self._scope)
        try:
            while True:
                for event in await self._run("waiting for updates", watcher.poll, EVENT_WAIT_SECONDS):
                    yield event
        finally:
            await asyncio.to_thread(watcher.close)
