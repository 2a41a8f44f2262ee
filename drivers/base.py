"""The hypervisor driver contract: typed specs in, typed results out, typed errors."""

from __future__ import annotations

import abc
import enum
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar


class DriverError(Exception):
    """A hypervisor operation failed; the message is shown to users as errortext."""


class NotSupported(DriverError):
    """The driver (or this host) cannot do the requested operation."""


class HostUnreachable(DriverError):
    """The host did not answer or refused the connection."""


class AuthenticationFailed(HostUnreachable):
    """The host answered but rejected the credentials."""


class InstanceNotFound(DriverError):
    """No instance with that uuid exists on the host."""


class InvalidSpec(DriverError):
    """The spec handed to the driver is not usable (bad template, bad size...)."""


class PowerState(enum.StrEnum):
    """A guest's power state as drivers report it; services map it to VM states."""

    RUNNING = "Running"
    STOPPED = "Stopped"
    SUSPENDED = "Suspended"
    UNKNOWN = "Unknown"


# every image format virga registers templates in (registerTemplate's format); a driver narrows it to what
# its guests run from (Driver.disk_formats)
DISK_FORMATS: tuple[str, ...] = ("QCOW2", "RAW", "VHD", "VHDX", "OVA", "ISO")


class Capability(enum.StrEnum):
    """Optional abilities a driver declares; the API refuses what is missing."""

    LIVE_MIGRATION = "live_migration"
    COLD_MIGRATION = "cold_migration"
    DISK_SNAPSHOT = "disk_snapshot"
    VM_SNAPSHOT = "vm_snapshot"
    MEMORY_SNAPSHOT = "memory_snapshot"
    HOT_PLUG_VOLUME = "hot_plug_volume"
    SUSPEND = "suspend"
    SCALE_RUNNING = "scale_running"
    RESIZE_VOLUME = "resize_volume"
    MIGRATE_VOLUME = "migrate_volume"  # move a disk to another primary pool (migrateVolume)
    SERIAL_CONSOLE = "serial_console"
    VNC_CONSOLE = "vnc_console"
    EVENTS = "events"
    STATS = "stats"


@dataclass(frozen=True)
class BuiltinTemplate:
    """A template a hypervisor ships ready in every zone of its hosts (CloudStack's simulator has one)."""

    name: str
    displaytext: str
    url: str
    format: str
    os_category: str
    os_type: str
    size_bytes: int
    passwordenabled: bool = False


@dataclass(frozen=True)
class PoolScheme:
    """A primary-storage URL scheme a hypervisor brings (createStoragePool url=<scheme>://name)."""

    scheme: str  # e.g. "simulator"
    pool_type: str  # CloudStack's pool type recorded for such pools
    path_prefix: str  # the pool's path is this prefix + the name in the URL
    default_bytes: int  # capacity when the call gives none


@dataclass(frozen=True)
class HostConnection:
    """How to reach one host: its URL and credentials plus driver options."""

    url: str
    username: str | None = None
    password: str | None = None
    private_key: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HostFacts:
    """What a host says about itself when virga connects."""

    name: str
    hypervisor: str
    hypervisor_version: str
    cpu_model: str
    cpu_count: int
    cpu_mhz: int
    memory_bytes: int
    arch: str = "x86_64"
    accelerator: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PoolSpec:
    """A primary storage pool as a driver sees it."""

    uuid: str
    name: str
    kind: str
    url: str
    path: str = ""


@dataclass(frozen=True)
class TemplateSpec:
    """A template (or ISO) a volume or instance is made from."""

    uuid: str
    name: str
    url: str
    format: str = "QCOW2"
    size_bytes: int = 0
    os_type: str = "Other Linux (64-bit)"
    is_iso: bool = False
    details: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class VolumeSpec:
    """A disk: where it lives, how large, what it is made from."""

    uuid: str
    name: str
    size_bytes: int
    pool: PoolSpec
    kind: str = "ROOT"
    path: str = ""
    format: str = "QCOW2"
    device_id: int = 0


@dataclass(frozen=True)
class NicSpec:
    """One guest NIC and the host-side network it plugs into."""

    uuid: str
    mac: str
    ip: str | None
    netmask: str | None
    gateway: str | None
    network_uuid: str
    bridge: str
    broadcast_uri: str = ""
    model: str = "virtio"
    device_id: int = 0
    is_default: bool = True


@dataclass(frozen=True)
class InstanceSpec:
    """Everything a driver needs to define a guest."""

    uuid: str
    name: str
    display_name: str
    cpus: int
    cpu_mhz: int
    memory_mb: int
    volumes: tuple[VolumeSpec, ...]
    nics: tuple[NicSpec, ...] = ()
    template: TemplateSpec | None = None
    iso: TemplateSpec | None = None
    hostname: str = ""
    userdata: str = ""
    ssh_key: str = ""
    details: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class InstanceInfo:
    """A guest as the hypervisor reports it."""

    uuid: str
    name: str
    state: PowerState
    cpus: int = 0
    memory_mb: int = 0
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class VolumeInfo:
    """A disk as it now exists on the host."""

    path: str
    size_bytes: int
    physical_bytes: int = 0


@dataclass(frozen=True)
class SnapshotInfo:
    """A volume or instance snapshot on the hypervisor."""

    name: str
    path: str = ""
    size_bytes: int = 0
    memory: bool = False


@dataclass(frozen=True)
class InstanceStats:
    """Usage counters of one guest, cumulative since it started (None: the hypervisor cannot tell)."""

    cpu_time_ns: int = 0
    cpu_percent: float = 0.0
    memory_kb: int = 0
    memory_used_kb: int = 0
    disk_read_bytes: int | None = 0
    disk_write_bytes: int | None = 0
    disk_read_ops: int | None = 0
    disk_write_ops: int | None = 0
    net_rx_bytes: int | None = 0
    net_tx_bytes: int | None = 0


@dataclass(frozen=True)
class ConsoleInfo:
    """Where a guest's console can be reached."""

    kind: str
    location: str


@dataclass(frozen=True)
class PoolStats:
    """Capacity and use of a primary pool, in bytes."""

    capacity_bytes: int
    used_bytes: int


@dataclass(frozen=True)
class InstanceEvent:
    """A lifecycle change the hypervisor announced."""

    uuid: str
    state: PowerState
    reason: str = ""


@dataclass(frozen=True)
class DiscoveredHost:
    """A host found behind a pool master or a vCenter, with how to reach it."""

    facts: HostFacts
    conn: HostConnection
    cluster: str = ""


@dataclass(frozen=True)
class Inventory:
    """What a connection can see: hosts, primary pools, networks and templates."""

    hosts: tuple[DiscoveredHost, ...] = ()
    pools: tuple[PoolSpec, ...] = ()
    networks: tuple[str, ...] = ()
    templates: tuple[TemplateSpec, ...] = ()
    datacenter: str = ""


class ConsoleStream(abc.ABC):
    """An interactive guest console: bytes in and out until the guest or the client closes it."""

    async def history(self) -> bytes:
        """Recent console output from before the attach (empty when the driver keeps none)."""
        return b""

    @abc.abstractmethod
    async def read(self) -> bytes:
        """The next chunk of console output; b'' at end of stream."""

    @abc.abstractmethod
    async def write(self, data: bytes) -> None:
        """Send bytes (keystrokes) to the guest."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Detach from the console."""


class Driver(abc.ABC):
    """One connection to one host; blocking libraries run through asyncio.to_thread."""

    hypervisor: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    # the image-store transfer backend of zones of this hypervisor (virga.services.transfers.BACKENDS):
    # "nfs" when disks and images are files qemu-img can copy to and from an NFS image store
    image_transfers: ClassVar[str] = "nfs"
    # the template formats this hypervisor's guests run from (registerTemplate refuses the others)
    disk_formats: ClassVar[tuple[str, ...]] = DISK_FORMATS
    # templates ready in a zone as soon as a host of this hypervisor joins it (registered by virga itself)
    builtin_templates: ClassVar[tuple[BuiltinTemplate, ...]] = ()
    # the traffic-type column naming this hypervisor's guest network (CloudStack's kvmnetworklabel, ...)
    traffic_label: ClassVar[str | None] = None
    # a primary-storage URL scheme of this hypervisor's own (the simulator's simulator://name pools)
    pool_scheme: ClassVar[PoolScheme | None] = None
    STATE_MAP: ClassVar[Mapping[Any, PowerState]] = {}

    def __init__(self, conn: HostConnection) -> None:
        """Remember how to reach the host; nothing is contacted until connect()."""
        self.conn = conn

    def supports(self, cap: Capability) -> bool:
        """Whether this driver declares the capability."""
        return cap in self.capabilities

    def require(self, cap: Capability) -> None:
        """Raise NotSupported unless the driver declares the capability."""
        if cap not in self.capabilities:
            raise NotSupported(f"{cap.value} is not supported by the {self.hypervisor} hypervisor")

    # --- host -------------------------------------------------------------
    @abc.abstractmethod
    async def connect(self) -> HostFacts:
        """Open the connection, check the host and return its facts."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release the connection."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise HostUnreachable unless the host answers."""

    async def discover(self) -> Inventory:
        """Hosts, pools, networks and templates reachable through this connection."""
        facts = await self.connect()
        return Inventory(hosts=(DiscoveredHost(facts=facts, conn=self.conn),))

    @abc.abstractmethod
    async def list_instances(self) -> list[InstanceInfo]:
        """Every guest defined on the host, managed by virga or not."""

    @abc.abstractmethod
    async def get_instance(self, uuid: str) -> InstanceInfo:
        """One guest; InstanceNotFound when absent."""

    # --- storage ----------------------------------------------------------
    @abc.abstractmethod
    async def prepare_volume(self, vol: VolumeSpec, template: TemplateSpec | None) -> VolumeInfo:
        """Create a disk, blank or from a template, and return where it lives."""

    @abc.abstractmethod
    async def delete_volume(self, vol: VolumeSpec) -> None:
        """Remove a disk; absent disks are not an error."""

    async def resize_volume(self, vol: VolumeSpec, size_bytes: int) -> VolumeInfo:
        """Grow a disk."""
        self.require(Capability.RESIZE_VOLUME)
        raise NotSupported("resize_volume")

    async def migrate_volume(self, vol: VolumeSpec, target: PoolSpec) -> VolumeInfo:
        """Move a disk (of a stopped VM, or detached) to another primary pool; the source is removed.

        Drivers declaring Capability.MIGRATE_VOLUME implement it; the others refuse with NotSupported. The
        returned path is the disk's new one, and stopped guests using the disk are pointed at it. A disk a
        running guest uses is refused with NotSupported; a missing disk, or a move to the pool it is already
        on, with InvalidSpec.
        """
        self.require(Capability.MIGRATE_VOLUME)
        raise NotSupported("migrate_volume")

    async def pool_stats(self, pool: PoolSpec) -> PoolStats:
        """Capacity and use of a primary pool as seen from this host."""
        raise NotSupported(f"pool statistics are not supported by the {self.hypervisor} hypervisor")

    @abc.abstractmethod
    async def release_pool(self, pool: PoolSpec) -> None:
        """Undo what this driver set up on the host for a primary pool that is being deleted.

        Files on the pool stay; a pool the driver never set up (or already released) is not an
        error; the driver sets the pool up again on demand if it is used afterwards.
        """

    # --- lifecycle --------------------------------------------------------
    @abc.abstractmethod
    async def create_instance(self, spec: InstanceSpec) -> InstanceInfo:
        """Define (not start) a guest from its spec."""

    @abc.abstractmethod
    async def start_instance(self, uuid: str) -> InstanceInfo:
        """Power a guest on."""

    @abc.abstractmethod
    async def stop_instance(self, uuid: str, force: bool = False) -> InstanceInfo:
        """Shut a guest down (ACPI with a timeout, then force; or force at once)."""

    @abc.abstractmethod
    async def reboot_instance(self, uuid: str) -> InstanceInfo:
        """Reboot a running guest."""

    @abc.abstractmethod
    async def destroy_instance(self, uuid: str) -> None:
        """Power off and undefine a guest; its volumes are deleted separately."""

    async def suspend_instance(self, uuid: str) -> InstanceInfo:
        """Pause a running guest."""
        self.require(Capability.SUSPEND)
        raise NotSupported("suspend")

    async def resume_instance(self, uuid: str) -> InstanceInfo:
        """Resume a paused guest."""
        self.require(Capability.SUSPEND)
        raise NotSupported("resume")

    async def scale_instance(self, uuid: str, cpus: int, memory_mb: int) -> InstanceInfo:
        """Change a (stopped, unless SCALE_RUNNING) guest's CPU count and memory."""
        raise NotSupported(f"scaling is not supported by the {self.hypervisor} hypervisor")

    async def attach_volume(self, uuid: str, vol: VolumeSpec) -> None:
        """Attach a disk (hot-plug when running and HOT_PLUG_VOLUME)."""
        raise NotSupported(f"attaching volumes is not supported by the {self.hypervisor} hypervisor")

    async def detach_volume(self, uuid: str, vol: VolumeSpec) -> None:
        """Detach a disk."""
        raise NotSupported(f"detaching volumes is not supported by the {self.hypervisor} hypervisor")

    # --- snapshots --------------------------------------------------------
    async def snapshot_volume(self, vol: VolumeSpec, name: str) -> SnapshotInfo:
        """Take a disk snapshot."""
        self.require(Capability.DISK_SNAPSHOT)
        raise NotSupported("snapshot_volume")

    async def revert_volume_snapshot(self, vol: VolumeSpec, snap: SnapshotInfo) -> None:
        """Roll a disk back to a snapshot."""
        self.require(Capability.DISK_SNAPSHOT)
        raise NotSupported("revert_volume_snapshot")

    async def delete_volume_snapshot(self, vol: VolumeSpec, snap: SnapshotInfo) -> None:
        """Delete a disk snapshot."""
        self.require(Capability.DISK_SNAPSHOT)
        raise NotSupported("delete_volume_snapshot")

    async def snapshot_instance(self, uuid: str, name: str, memory: bool) -> SnapshotInfo:
        """Take a VM snapshot (disks, and memory when asked and MEMORY_SNAPSHOT)."""
        self.require(Capability.VM_SNAPSHOT)
        raise NotSupported("snapshot_instance")

    async def revert_instance_snapshot(self, uuid: str, snap: SnapshotInfo) -> InstanceInfo:
        """Roll a guest back to a VM snapshot."""
        self.require(Capability.VM_SNAPSHOT)
        raise NotSupported("revert_instance_snapshot")

    async def delete_instance_snapshot(self, uuid: str, snap: SnapshotInfo) -> None:
        """Delete a VM snapshot."""
        self.require(Capability.VM_SNAPSHOT)
        raise NotSupported("delete_instance_snapshot")

    # --- migration, stats, console, events ---------------------------------
    async def migrate_instance(self, uuid: str, target: Driver, live: bool) -> InstanceInfo:
        """Move a guest to the target host (live when asked and supported)."""
        self.require(Capability.LIVE_MIGRATION if live else Capability.COLD_MIGRATION)
        raise NotSupported("migrate_instance")

    async def instance_stats(self, uuid: str) -> InstanceStats:
        """Usage counters of a guest."""
        self.require(Capability.STATS)
        raise NotSupported("instance_stats")

    async def console(self, uuid: str) -> ConsoleInfo:
        """Where the guest's console is."""
        raise NotSupported(f"consoles are not supported by the {self.hypervisor} hypervisor")

    async def open_console(self, uuid: str) -> ConsoleStream:
        """Attach to a running guest's serial console (SERIAL_CONSOLE); close the stream when done."""
        raise NotSupported(f"serial consoles are not supported by the {self.hypervisor} hypervisor")

    async def events(self) -> AsyncIterator[InstanceEvent]:
        """Lifecycle events as they happen (EVENTS); otherwise services poll."""
        self.require(Capability.EVENTS)
        raise NotSupported("events")
        yield  # pragma: no cover  (makes this an async generator)
