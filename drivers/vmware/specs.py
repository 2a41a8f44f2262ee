"""Pure builders of vSphere config specs from virga specs (no calls to the server)."""

from __future__ import annotations

from collections.abc import Sequence

from pyVmomi import vim
from virga.drivers.base import InstanceSpec, NicSpec, PoolSpec, VolumeSpec

SCSI_KEY = -100
SCSI_RESERVED_UNIT = 7
DEFAULT_GUEST = "otherLinux64Guest"
VOLUME_FOLDER = "virga"
Op = vim.vm.device.VirtualDeviceSpec.Operation
DeviceSpec = vim.vm.device.VirtualDeviceSpec
Backing = vim.vm.device.VirtualDevice.BackingInfo


def ds_path(datastore: str, rel: str = "") -> str:
    """A datastore path like '[ds1] virga/x.vmdk'."""
    return f"[{datastore}] {rel}".rstrip()


def datastore_name(pool: PoolSpec) -> str:
    """The datastore a pool stands for: its path '[name]' when it has one, else its name."""
    path = pool.path.strip()
    if path.startswith("[") and path.endswith("]") and len(path) > 2:
        return path[1:-1]
    return pool.name


def volume_path(vol: VolumeSpec) -> str:
    """Where virga keeps a volume's vmdk: its pool's datastore, folder virga/."""
    return ds_path(datastore_name(vol.pool), f"{VOLUME_FOLDER}/{vol.uuid}.vmdk")


def unit_number(device_id: int) -> int:
    """SCSI unit for a virga device id, skipping the controller's own unit 7."""
    return device_id + 1 if device_id >= SCSI_RESERVED_UNIT else device_id


def scsi_controller_add() -> vim.vm.device.VirtualDeviceSpec:
    """Add a paravirtual SCSI controller with a temporary key."""
    ctl = vim.vm.device.ParaVirtualSCSIController(
        key=SCSI_KEY, busNumber=0, sharedBus=vim.vm.device.VirtualSCSIController.Sharing.noSharing
    )
    return vim.vm.device.VirtualDeviceSpec(operation=Op.add, device=ctl)


def disk_add(path: str, size_bytes: int, controller_key: int, unit: int, key: int) -> vim.vm.device.VirtualDeviceSpec:
    """Attach an existing vmdk at a SCSI unit (no file operation: the file already exists)."""
    backing = vim.vm.device.VirtualDisk.FlatVer2BackingInfo(fileName=path, diskMode="persistent", thinProvisioned=True)
    disk = vim.vm.device.VirtualDisk(
        key=key, backing=backing, controllerKey=controller_key, unitNumber=unit, capacityInKB=size_bytes // 1024
    )
    return vim.vm.device.VirtualDeviceSpec(operation=Op.add, device=disk)


def device_remove(device: vim.vm.device.VirtualDevice, destroy: bool = False) -> vim.vm.device.VirtualDeviceSpec:
    """Remove a device; destroy=True also deletes a disk's file."""
    spec = vim.vm.device.VirtualDeviceSpec(operation=Op.remove, device=device)
    if destroy:
        spec.fileOperation = vim.vm.device.VirtualDeviceSpec.FileOperation.destroy
    return spec


def disk_file(device: vim.vm.device.VirtualDevice) -> str:
    """The backing file of a disk device ('' when it has none)."""
    return str(getattr(device.backing, "fileName", "") or "")


def nic_backing(network: vim.Network) -> vim.vm.device.VirtualDevice.BackingInfo:
    """The NIC backing for a standard port group or a distributed port group."""
    if isinstance(network, vim.dvs.DistributedVirtualPortgroup):
        switch = network.config.distributedVirtualSwitch
        port = vim.dvs.PortConnection(portgroupKey=network.key, switchUuid=getattr(switch, "uuid", ""))
        return vim.vm.device.VirtualEthernetCard.DistributedVirtualPortBackingInfo(port=port)
    return vim.vm.device.VirtualEthernetCard.NetworkBackingInfo(deviceName=network.name, network=network)


def nic_add(nic: NicSpec, backing: Backing, key: int) -> DeviceSpec:
    """A vmxnet3 NIC with virga's MAC address."""
    card = vim.vm.device.VirtualVmxnet3(
        key=key,
        backing=backing,
        addressType="manual",
        macAddress=nic.mac,
        connectable=vim.vm.device.VirtualDevice.ConnectInfo(startConnected=True, allowGuestControl=True),
    )
    return vim.vm.device.VirtualDeviceSpec(operation=Op.add, device=card)


def disks_for(spec: InstanceSpec, controller_key: int) -> list[vim.vm.device.VirtualDeviceSpec]:
    """Disk adds for every volume of an instance, at SCSI units from their device ids."""
    return [
        disk_add(v.path or volume_path(v), v.size_bytes, controller_key, unit_number(v.device_id), -200 - i)
        for i, v in enumerate(spec.volumes)
    ]


def nics_for(nics: Sequence[NicSpec], backings: Sequence[Backing]) -> list[DeviceSpec]:
    """NIC adds for every NIC of an instance, in device order."""
    return [nic_add(n, b, -300 - i) for i, (n, b) in enumerate(zip(nics, backings, strict=True))]


def create_config(spec: InstanceSpec, datastore: str, devices: list[DeviceSpec]) -> vim.vm.ConfigSpec:
    """The ConfigSpec of a fresh VM: identity, offering size, files on the root datastore."""
    return vim.vm.ConfigSpec(
        name=spec.name,
        instanceUuid=spec.uuid,
        uuid=spec.uuid,
        annotation=spec.display_name,
        numCPUs=spec.cpus,
        memoryMB=spec.memory_mb,
        guestId=spec.details.get("guest_id", DEFAULT_GUEST),
        files=vim.vm.FileInfo(vmPathName=ds_path(datastore)),
        deviceChange=devices,
    )


def size_config(cpus: int, memory_mb: int) -> vim.vm.ConfigSpec:
    """A reconfigure spec that only changes CPU count and memory."""
    return vim.vm.ConfigSpec(numCPUs=cpus, memoryMB=memory_mb)


def clone_spec(
    spec: InstanceSpec, pool: vim.ResourcePool, host: vim.HostSystem, datastore: vim.Datastore | None
) -> vim.vm.CloneSpec:
    """Clone a template powered off into the host's pool, keeping virga's instance uuid."""
    loc = vim.vm.RelocateSpec(pool=pool, host=host, datastore=datastore)
    return vim.vm.CloneSpec(
        location=loc,
        powerOn=False,
        template=False,
        config=vim.vm.ConfigSpec(instanceUuid=spec.uuid, annotation=spec.display_name),
    )


def relocate_spec(
    host: vim.HostSystem | None, pool: vim.ResourcePool | None, datastore: vim.Datastore | None
) -> vim.vm.RelocateSpec:
    """Move a VM to another host (and its pool) and/or datastore."""
    return vim.vm.RelocateSpec(host=host, pool=pool, datastore=datastore)


def snapshot_walk(tree: Sequence[vim.vm.SnapshotTree] | None) -> list[vim.vm.SnapshotTree]:
    """Every node of a snapshot tree, depth first."""
    out: list[vim.vm.SnapshotTree] = []
    for node in tree or ():
        out.append(node)
        out.extend(snapshot_walk(node.childSnapshotList))
    return out


def disk_file_spec(size_bytes: int) -> vim.VirtualDiskManager.FileBackedVirtualDiskSpec:
    """A thin lsiLogic virtual disk of the given size."""
    return vim.VirtualDiskManager.FileBackedVirtualDiskSpec(
        capacityKb=max(size_bytes // 1024, 1024), adapterType="lsiLogic", diskType="thin"
    )
