"""SimulatorDriver: passes the driver contract with guests that exist only in memory."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlparse

from virga.drivers.base import (
    DISK_FORMATS,
    BuiltinTemplate,
    Capability,
    ConsoleInfo,
    Driver,
    HostFacts,
    HostUnreachable,
    InstanceInfo,
    InstanceNotFound,
    InstanceSpec,
    InstanceStats,
    InvalidSpec,
    NotSupported,
    PoolScheme,
    PoolSpec,
    PoolStats,
    PowerState,
    SnapshotInfo,
    TemplateSpec,
    VolumeInfo,
    VolumeSpec,
)
from virga.drivers.simulator.world import WORLD

GIB = 1024**3


def _size(text: str) -> int:
    """Parse a size such as 256G or 512M into bytes."""
    units = {"K": 1024, "M": 1024**2, "G": GIB, "T": 1024**4}
    text = text.strip().upper()
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


# CloudStack's simulator database ships this featured template (setup/db/templates.simulator.sql, id 111);
# its image store row records size 0, here the simulated guest's disk is 2 GiB.
SIMULATOR_TEMPLATE = BuiltinTemplate(
    name="CentOS 5.6 (64-bit) no GUI (Simulator)",
    displaytext="CentOS 5.6 (64-bit) no GUI (Simulator)",
    url="http://nfs1.lab.vmops.com/templates/centos53-x86_64/latest/f59f18fb-ae94-4f97-afd2-f84755767aca.vhd.bz2",
    format="VHD",
    os_category="CentOS",
    os_type="CentOS 5.6 (64-bit)",
    size_bytes=2 * 2**30,
)


class SimulatorDriver(Driver):
    """A host whose guests live in the simulator world; URL `simulator://NAME?cpus=&mhz=&memory=`."""

    hypervisor = "Simulator"
    image_transfers = "simulated"  # images and disks live in memory (virga.drivers.simulator.transfers)
    capabilities = frozenset(Capability) - {Capability.EVENTS, Capability.VNC_CONSOLE}
    disk_formats = DISK_FORMATS  # simulated guests run from any image format
    pool_scheme = PoolScheme("simulator", "Simulator", "/sim/", 2 * 2**40)  # simulator://name, 2 TiB
    builtin_templates = (SIMULATOR_TEMPLATE,)
    STATE_MAP = {"on": PowerState.RUNNING, "off": PowerState.STOPPED, "paused": PowerState.SUSPENDED}

    def __init__(self, conn: Any) -> None:
        """Parse the host's name and size from its URL."""
        super().__init__(conn)
        url = urlparse(conn.url)
        self.host = url.netloc or url.path.strip("/") or "simulator"
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.cpus = int(query.get("cpus", conn.options.get("cpus", "32")))
        self.mhz = int(query.get("mhz", conn.options.get("mhz", "2400")))
        self.memory = _size(query.get("memory", conn.options.get("memory", "256G")))
        self.connected = False

    async def _op(self, operation: str) -> None:
        """Check the host is up and apply injected behaviour for the operation."""
        if self.host in WORLD.down_hosts:
            raise HostUnreachable(f"simulated host {self.host} does not answer")
        await WORLD.behave(operation, self.host)

    def _guest(self, uuid: str) -> dict[str, Any]:
        """The guest record, or InstanceNotFound when it is not on this host."""
        guest = WORLD.guest(self.host, uuid)
        if guest is None:
            raise InstanceNotFound(f"instance {uuid} does not exist on host {self.host}")
        return guest

    def _to_instance(self, guest: dict[str, Any]) -> InstanceInfo:
        """Translate a guest record into the contract's InstanceInfo."""
        return InstanceInfo(
            uuid=guest["uuid"],
            name=guest["name"],
            state=self.STATE_MAP[guest["power"]],
            cpus=guest["cpus"],
            memory_mb=guest["memory_mb"],
        )

    def _set(self, guest: dict[str, Any], **changes: Any) -> InstanceInfo:
        """Update a guest record, persist it and return its InstanceInfo."""
        guest.update(changes)
        WORLD.save_guest(guest)
        return self._to_instance(guest)

    async def connect(self) -> HostFacts:
        """Return the simulated host's facts."""
        await self._op("connect")
        self.connected = True
        return HostFacts(
            name=self.host,
            hypervisor=self.hypervisor,
            hypervisor_version="1.0",
            cpu_model="Simulated CPU",
            cpu_count=self.cpus,
            cpu_mhz=self.mhz,
            memory_bytes=self.memory,
            accelerator="simulated",
        )

    async def close(self) -> None:
        """Nothing to release."""
        self.connected = False

    async def ping(self) -> None:
        """Answer unless the host is marked down."""
        await self._op("ping")

    async def list_instances(self) -> list[InstanceInfo]:
        """Every guest on this host."""
        await self._op("list_instances")
        return [self._to_instance(g) for g in WORLD.host_guests(self.host)]

    async def get_instance(self, uuid: str) -> InstanceInfo:
        """One guest on this host."""
        await self._op("get_instance")
        return self._to_instance(self._guest(uuid))

    async def prepare_volume(self, vol: VolumeSpec, template: TemplateSpec | None) -> VolumeInfo:
        """Record a disk in the pool."""
        await self._op("prepare_volume")
        if vol.size_bytes <= 0 and template is None:
            raise InvalidSpec(f"volume {vol.name} needs a size or a template")
        size = max(vol.size_bytes, template.size_bytes if template else 0)
        path = f"{vol.pool.path or vol.pool.uuid}/{vol.uuid}"
        WORLD.pools.setdefault(self.host, set()).add(vol.pool.uuid)
        WORLD.save("disk", path, {"size": size, "pool": vol.pool.uuid, "snapshots": {}})
        return VolumeInfo(path=path, size_bytes=size, physical_bytes=0)

    async def delete_volume(self, vol: VolumeSpec) -> None:
        """Forget a disk."""
        await self._op("delete_volume")
        WORLD.save("disk", vol.path, None)

    async def resize_volume(self, vol: VolumeSpec, size_bytes: int) -> VolumeInfo:
        """Grow a disk."""
        await self._op("resize_volume")
        disk = WORLD.disks.get(vol.path)
        if disk is None:
            raise InvalidSpec(f"volume {vol.path} does not exist")
        if size_bytes < disk["size"]:
            raise InvalidSpec("volumes can only grow")
        WORLD.save("disk", vol.path, {**disk, "size": size_bytes})
        return VolumeInfo(path=vol.path, size_bytes=size_bytes)

    async def migrate_volume(self, vol: VolumeSpec, target: PoolSpec) -> VolumeInfo:
        """Move a disk's record to the target pool; stopped guests using it are pointed at the new path."""
        await self._op("migrate_volume")
        disk = WORLD.disks.get(vol.path)
        if disk is None:
            raise InvalidSpec(f"volume {vol.path} does not exist")
        if disk["pool"] == target.uuid:
            raise InvalidSpec(f"volume {vol.name} is already on pool {target.name}")
        users = [g for guests in WORLD.placed.values() for g in guests.values() if vol.path in g["volumes"]]
        running = [g["name"] for g in users if g["power"] != "off"]
        if running:
            raise NotSupported(f"moving volume {vol.name} of running instance {running[0]} is not supported; stop it")
        path = f"{target.path or target.uuid}/{vol.uuid}"
        if path in WORLD.disks:
            raise InvalidSpec(f"volume {path} already exists on pool {target.name}")
        WORLD.pools.setdefault(self.host, set()).add(target.uuid)
        WORLD.save("disk", path, {**disk, "pool": target.uuid})
        for guest in users:
            guest["volumes"] = [path if p == vol.path else p for p in guest["volumes"]]
            WORLD.save_guest(guest)
        WORLD.save("disk", vol.path, None)
        return VolumeInfo(path=path, size_bytes=disk["size"])

    async def pool_stats(self, pool: PoolSpec) -> PoolStats:
        """Sum the disks recorded in a pool."""
        await self._op("pool_stats")
        WORLD.pools.setdefault(self.host, set()).add(pool.uuid)
        used = sum(d["size"] for d in WORLD.disks.values() if d["pool"] == pool.uuid)
        return PoolStats(capacity_bytes=0, used_bytes=used)

    async def release_pool(self, pool: PoolSpec) -> None:
        """Forget that this host has the pool set up (its disks stay recorded)."""
        await self._op("release_pool")
        WORLD.pools.get(self.host, set()).discard(pool.uuid)

    async def create_instance(self, spec: InstanceSpec) -> InstanceInfo:
        """Define a guest, powered off."""
        await self._op("create_instance")
        if spec.cpus < 1 or spec.memory_mb < 1:
            raise InvalidSpec("an instance needs at least one CPU and some memory")
        if WORLD.guest(self.host, spec.uuid) is not None:  # per host: HA may define it again elsewhere
            raise InvalidSpec(f"instance {spec.uuid} is already defined on host {self.host}")
        guest: dict[str, Any] = {
            "uuid": spec.uuid,
            "name": spec.name,
            "host": self.host,
            "power": "off",
            "cpus": spec.cpus,
            "memory_mb": spec.memory_mb,
            "volumes": [v.path for v in spec.volumes],
            "snapshots": {},
            "started": 0.0,
        }
        return self._set(guest)

    async def start_instance(self, uuid: str) -> InstanceInfo:
        """Power on."""
        await self._op("start_instance")
        return self._set(self._guest(uuid), power="on", started=time.time())

    async def stop_instance(self, uuid: str, force: bool = False) -> InstanceInfo:
        """Power off."""
        await self._op("stop_instance")
        return self._set(self._guest(uuid), power="off")

    async def reboot_instance(self, uuid: str) -> InstanceInfo:
        """Reboot a running guest."""
        await self._op("reboot_instance")
        guest = self._guest(uuid)
        if guest["power"] != "on":
            raise InvalidSpec(f"instance {uuid} is not running")
        return self._set(guest, started=time.time())

    async def destroy_instance(self, uuid: str) -> None:
        """Undefine a guest."""
        await self._op("destroy_instance")
        self._guest(uuid)
        WORLD.drop_guest(self.host, uuid)

    async def suspend_instance(self, uuid: str) -> InstanceInfo:
        """Pause a running guest."""
        await self._op("suspend_instance")
        return self._set(self._guest(uuid), power="paused")

    async def resume_instance(self, uuid: str) -> InstanceInfo:
        """Resume a paused guest."""
        await self._op("resume_instance")
        return self._set(self._guest(uuid), power="on")

    async def scale_instance(self, uuid: str, cpus: int, memory_mb: int) -> InstanceInfo:
        """Change CPU count and memory."""
        await self._op("scale_instance")
        return self._set(self._guest(uuid), cpus=cpus, memory_mb=memory_mb)

    async def attach_volume(self, uuid: str, vol: VolumeSpec) -> None:
        """Attach a disk."""
        await self._op("attach_volume")
        guest = self._guest(uuid)
        if vol.path in guest["volumes"]:
            raise InvalidSpec(f"volume {vol.name} is already attached")
        self._set(guest, volumes=[*guest["volumes"], vol.path])

    async def detach_volume(self, uuid: str, vol: VolumeSpec) -> None:
        """Detach a disk."""
        await self._op("detach_volume")
        guest = self._guest(uuid)
        self._set(guest, volumes=[p for p in guest["volumes"] if p != vol.path])

    async def snapshot_volume(self, vol: VolumeSpec, name: str) -> SnapshotInfo:
        """Record a disk snapshot."""
        await self._op("snapshot_volume")
        disk = WORLD.disks.get(vol.path)
        if disk is None:
            raise InvalidSpec(f"volume {vol.path} does not exist")
        disk["snapshots"][name] = disk["size"]
        WORLD.save("disk", vol.path, disk)
        return SnapshotInfo(name=name, path=f"{vol.path}@{name}", size_bytes=disk["size"])

    async def revert_volume_snapshot(self, vol: VolumeSpec, snap: SnapshotInfo) -> None:
        """Roll a disk back."""
        await self._op("revert_volume_snapshot")
        disk = WORLD.disks.get(vol.path, {"snapshots": {}})
        if snap.name not in disk["snapshots"]:
            raise InvalidSpec(f"snapshot {snap.name} does not exist")

    async def delete_volume_snapshot(self, vol: VolumeSpec, snap: SnapshotInfo) -> None:
        """Forget a disk snapshot."""
        await self._op("delete_volume_snapshot")
        disk = WORLD.disks.get(vol.path)
        if disk is not None:
            disk["snapshots"].pop(snap.name, None)
            WORLD.save("disk", vol.path, disk)

    async def snapshot_instance(self, uuid: str, name: str, memory: bool) -> SnapshotInfo:
        """Record a VM snapshot."""
        await self._op("snapshot_instance")
        guest = self._guest(uuid)
        guest["snapshots"][name] = {"power": guest["power"] if memory else "off"}
        self._set(guest)
        return SnapshotInfo(name=name, memory=memory)

    async def revert_instance_snapshot(self, uuid: str, snap: SnapshotInfo) -> InstanceInfo:
        """Roll a guest back to a VM snapshot."""
        await self._op("revert_instance_snapshot")
        guest = self._guest(uuid)
        saved = guest["snapshots"].get(snap.name)
        if saved is None:
            raise InvalidSpec(f"snapshot {snap.name} does not exist")
        return self._set(guest, power=saved["power"])

    async def delete_instance_snapshot(self, uuid: str, snap: SnapshotInfo) -> None:
        """Forget a VM snapshot."""
        await self._op("delete_instance_snapshot")
        guest = self._guest(uuid)
        guest["snapshots"].pop(snap.name, None)
        self._set(guest)

    async def migrate_instance(self, uuid: str, target: Driver, live: bool) -> InstanceInfo:
        """Move a guest to another simulated host."""
        await self._op("migrate_instance")
        if not isinstance(target, SimulatorDriver):
            raise InvalidSpec("a simulated guest can only move to another simulated host")
        guest = self._guest(uuid)
        if live and guest["power"] != "on":
            raise InvalidSpec(f"instance {uuid} is not running; live migration needs a running guest")
        await target.ping()
        if WORLD.guest(target.host, uuid) is not None:
            raise InvalidSpec(f"instance {uuid} is already defined on host {target.host}")
        WORLD.drop_guest(self.host, uuid)
        return self._set(dict(guest), host=target.host)

    async def instance_stats(self, uuid: str) -> InstanceStats:
        """Deterministic counters that grow with uptime."""
        await self._op("instance_stats")
        guest = self._guest(uuid)
        up = max(0.0, time.time() - guest["started"]) if guest["power"] == "on" else 0.0
        return InstanceStats(
            cpu_time_ns=int(up * 1e8 * guest["cpus"]),
            cpu_percent=10.0 if up else 0.0,
            memory_kb=guest["memory_mb"] * 1024,
            memory_used_kb=guest["memory_mb"] * 512 if up else 0,
            disk_read_bytes=int(up * 4096),
            disk_write_bytes=int(up * 2048),
            disk_read_ops=int(up),
            disk_write_ops=int(up / 2),
            net_rx_bytes=int(up * 1500),
            net_tx_bytes=int(up * 1000),
        )

    async def console(self, uuid: str) -> ConsoleInfo:
        """A simulated serial console."""
        await self._op("console")
        self._guest(uuid)
        return ConsoleInfo(kind="serial", location=f"simulator://{self.host}/{uuid}")
