"""Blocking provisioning steps: volumes, VM creation (fresh or cloned) and destruction."""

from __future__ import annotations

from collections.abc import Callable

from pyVmomi import vim
from virga.drivers.base import InstanceSpec, InvalidSpec, TemplateSpec, VolumeInfo, VolumeSpec
from virga.drivers.vmware import inventory as inv
from virga.drivers.vmware import specs
from virga.drivers.vmware.session import ProgressCallback, Session


class Placement:
    """Where this driver puts things: host, its resource pool and its datacenter."""

    def __init__(self, host: vim.HostSystem, guest_network: str = "") -> None:
        """Resolve the host's pool and datacenter once; guest_network backs NICs whose bridge is no port group."""
        self.host = host
        self.guest_network = guest_network
        self.pool = inv.resource_pool(host)
        self.datacenter = inv.datacenter_of(host)

    def datastore(self, s: Session, name: str) -> vim.Datastore:
        """A datastore of the datacenter by name."""
        return inv.find_named(s, self.datacenter, vim.Datastore, name, "datastore")

    def network(self, s: Session, name: str) -> vim.Network:
        """A network or (distributed) port group of the datacenter by name."""
        try:
            return inv.find_named(s, self.datacenter, vim.Network, name, "port group")
        except InvalidSpec:
            if not self.guest_network or name == self.guest_network:
                raise InvalidSpec(
                    f"port group {name!r} does not exist on the vSphere server; set the zone's "
                    "guest traffic label (vmwarenetworklabel) or the cluster URL option "
                    "guest_network"
                ) from None
            return inv.find_named(s, self.datacenter, vim.Network, self.guest_network, "port group (guest_network)")


def _template_disk(s: Session, template: vim.VirtualMachine) -> str:
    """The vmdk path of a template's first disk."""
    devices = s.props(template, ["config.hardware.device"]).get("config.hardware.device") or ()
    for dev in devices:
        if isinstance(dev, vim.vm.device.VirtualDisk):
            return specs.disk_file(dev)
    raise InvalidSpec(f"template {template.name!r} has no disk")


def prepare_volume(
    s: Session, where: Placement, vol: VolumeSpec, template: TemplateSpec | None, progress: ProgressCallback | None
) -> VolumeInfo:
    """Create a volume's vmdk: a copy of the template's disk, or blank."""
    path = specs.volume_path(vol)
    where.datastore(s, specs.datastore_name(vol.pool))
    label = inv.template_name(template) if template else ""
    src = _template_disk(s, inv.find_template(s, where.datacenter, label)) if template else ""
    fm, vdm = s.content.fileManager, s.content.virtualDiskManager
    fm.MakeDirectory(specs.ds_path(specs.datastore_name(vol.pool), specs.VOLUME_FOLDER), where.datacenter, True)
    if src:
        task = vdm.CopyVirtualDisk_Task(src, where.datacenter, path, where.datacenter, None, False)
        s.wait(task, f"copying template {label} to volume {vol.name}", progress)
    else:
        task = vdm.CreateVirtualDisk_Task(path, where.datacenter, specs.disk_file_spec(vol.size_bytes))
        s.wait(task, f"creating volume {vol.name}", progress)
    return VolumeInfo(path=path, size_bytes=vol.size_bytes)


def delete_volume(s: Session, where: Placement, vol: VolumeSpec, progress: ProgressCallback | None) -> None:
    """Delete a volume's vmdk; a missing file is not an error."""
    path = vol.path or specs.volume_path(vol)
    task = s.content.virtualDiskManager.DeleteVirtualDisk_Task(path, where.datacenter)
    s.wait(task, f"deleting volume {vol.name}", progress, ignore=(vim.fault.FileNotFound,))


def _controller_key(devices: list[vim.vm.device.VirtualDevice]) -> int | None:
    """The key of the VM's first SCSI controller, if any."""
    for dev in devices:
        if isinstance(dev, vim.vm.device.VirtualSCSIController):
            return dev.key
    return None


def _nic_devices(s: Session, where: Placement, spec: InstanceSpec) -> list[vim.vm.device.VirtualDeviceSpec]:
    """NIC adds for the spec, each on the port group named by its bridge."""
    return specs.nics_for(spec.nics, [specs.nic_backing(where.network(s, n.bridge)) for n in spec.nics])


def create_fresh(
    s: Session, where: Placement, spec: InstanceSpec, progress: ProgressCallback | None
) -> vim.VirtualMachine:
    """CreateVM_Task with the offering's size, the volumes' disks and the NICs."""
    if not spec.volumes:
        raise InvalidSpec(f"instance {spec.name} has no root volume")
    devices = [specs.scsi_controller_add(), *specs.disks_for(spec, specs.SCSI_KEY), *_nic_devices(s, where, spec)]
    config = specs.create_config(spec, specs.datastore_name(spec.volumes[0].pool), devices)
    task = where.datacenter.vmFolder.CreateVM_Task(config, where.pool, where.host)
    return s.wait(task, f"creating virtual machine {spec.name}", progress)


def clone_template(
    s: Session, where: Placement, spec: InstanceSpec, undo: list[Callable[[], None]], progress: ProgressCallback | None
) -> vim.VirtualMachine:
    """CloneVM_Task from the template, then swap in virga's disks, NICs and size."""
    assert spec.template is not None
    template = inv.find_template(s, where.datacenter, inv.template_name(spec.template))
    ds = where.datastore(s, specs.datastore_name(spec.volumes[0].pool)) if spec.volumes else None
    nics = _nic_devices(s, where, spec)  # resolve port groups before any side effect
    clone = specs.clone_spec(spec, where.pool, where.host, ds)
    task = template.CloneVM_Task(where.datacenter.vmFolder, spec.name, clone)
    vm = s.wait(task, f"cloning template {template.name} to {spec.name}", progress)
    undo.append(lambda: destroy_vm(s, vm, None))
    if s.props(vm, ["runtime.host"]).get("runtime.host") != where.host:
        move = specs.relocate_spec(where.host, where.pool, None)
        s.wait(vm.RelocateVM_Task(move), f"placing {spec.name} on {where.host.name}", progress)
    devices = list(s.props(vm, ["config.hardware.device"]).get("config.hardware.device") or ())
    change = [specs.device_remove(d, destroy=True) for d in devices if isinstance(d, vim.vm.device.VirtualDisk)]
    change += [specs.device_remove(d) for d in devices if isinstance(d, vim.vm.device.VirtualEthernetCard)]
    key = _controller_key(devices)
    if key is None:
        change.append(specs.scsi_controller_add())
        key = specs.SCSI_KEY
    change += specs.disks_for(spec, key) + nics
    config = specs.size_config(spec.cpus, spec.memory_mb)
    config.deviceChange = change
    s.wait(vm.ReconfigVM_Task(config), f"fitting {spec.name} with its volumes and NICs", progress)
    return vm


def detach_volume_disks(s: Session, vm: vim.VirtualMachine, progress: ProgressCallback | None) -> None:
    """Detach (keep) every disk that is a virga volume, so destroying the VM spares them."""
    devices = s.props(vm, ["config.hardware.device"]).get("config.hardware.device") or ()
    marker = f"] {specs.VOLUME_FOLDER}/"
    keep = [d for d in devices if isinstance(d, vim.vm.device.VirtualDisk) and marker in specs.disk_file(d)]
    if keep:
        config = vim.vm.ConfigSpec(deviceChange=[specs.device_remove(d) for d in keep])
        s.wait(vm.ReconfigVM_Task(config), "detaching volumes before destroy", progress)


def destroy_vm(s: Session, vm: vim.VirtualMachine, progress: ProgressCallback | None) -> None:
    """Power off if needed, keep virga's volumes, and Destroy_Task the VM."""
    if s.props(vm, ["runtime.powerState"]).get("runtime.powerState") != "poweredOff":
        s.wait(vm.PowerOffVM_Task(), "powering off before destroy", progress)
    detach_volume_disks(s, vm, progress)
    s.wait(vm.Destroy_Task(), "destroying virtual machine", progress)
