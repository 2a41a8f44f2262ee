"""Blocking operations on one existing VM: power, size, disks, snapshots, moves, stats."""

from __future__ import annotations

import time

from pyVmomi import vim
from virga.drivers.base import DriverError, InstanceStats, InvalidSpec, NotSupported, SnapshotInfo, VolumeSpec
from virga.drivers.vmware import specs
from virga.drivers.vmware.errors import UNSUPPORTED
from virga.drivers.vmware.perf import PerfReader
from virga.drivers.vmware.session import ProgressCallback, Session


def power_state(s: Session, vm: vim.VirtualMachine) -> str:
    """The VM's runtime.powerState."""
    return str(s.props(vm, ["runtime.powerState"]).get("runtime.powerState", ""))


def stop(s: Session, vm: vim.VirtualMachine, force: bool, timeout: float, progress: ProgressCallback | None) -> None:
    """Power off at once (force or no tools), or ShutdownGuest then power off after the timeout."""
    tools = s.props(vm, ["guest.toolsRunningStatus"]).get("guest.toolsRunningStatus")
    if not force and tools == "guestToolsRunning":
        vm.ShutdownGuest()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if power_state(s, vm) == "poweredOff":
                return
            time.sleep(1.0)
    s.wait(vm.PowerOffVM_Task(), "powering off", progress)


def reboot(s: Session, vm: vim.VirtualMachine, progress: ProgressCallback | None) -> None:
    """RebootGuest when tools run, else a hard reset."""
    tools = s.props(vm, ["guest.toolsRunningStatus"]).get("guest.toolsRunningStatus")
    if tools == "guestToolsRunning":
        vm.RebootGuest()
        return
    s.wait(vm.ResetVM_Task(), "resetting", progress)


def scale(s: Session, vm: vim.VirtualMachine, cpus: int, memory_mb: int, progress: ProgressCallback | None) -> None:
    """Reconfigure CPU count and memory of a stopped VM."""
    if power_state(s, vm) != "poweredOff":
        raise NotSupported(f"scaling a running VM is {UNSUPPORTED} (without CPU/memory hot-add); stop it first")
    s.wait(vm.ReconfigVM_Task(specs.size_config(cpus, memory_mb)), "scaling", progress)


def _devices(s: Session, vm: vim.VirtualMachine) -> list[vim.vm.device.VirtualDevice]:
    """The VM's virtual hardware devices."""
    return list(s.props(vm, ["config.hardware.device"]).get("config.hardware.device") or ())


def attach(s: Session, vm: vim.VirtualMachine, vol: VolumeSpec, progress: ProgressCallback | None) -> None:
    """Add an existing volume's vmdk on the VM's SCSI controller."""
    devices = _devices(s, vm)
    ctl = next((d for d in devices if isinstance(d, vim.vm.device.VirtualSCSIController)), None)
    if ctl is None:
        raise DriverError(f"attaching volume {vol.name} failed: the VM has no SCSI controller")
    unit = specs.unit_number(vol.device_id)
    if any(getattr(d, "controllerKey", None) == ctl.key and d.unitNumber == unit for d in devices):
        raise InvalidSpec(f"attaching volume {vol.name} failed: SCSI unit {unit} is taken")
    add = specs.disk_add(vol.path or specs.volume_path(vol), vol.size_bytes, ctl.key, unit, -1)
    s.wait(vm.ReconfigVM_Task(vim.vm.ConfigSpec(deviceChange=[add])), f"attaching volume {vol.name}", progress)


def detach(s: Session, vm: vim.VirtualMachine, vol: VolumeSpec, progress: ProgressCallback | None) -> None:
    """Remove the volume's disk from the VM, keeping its file."""
    path = vol.path or specs.volume_path(vol)
    disk = next(
        (d for d in _devices(s, vm) if isinstance(d, vim.vm.device.VirtualDisk) and specs.disk_file(d) == path), None
    )
    if disk is None:
        raise DriverError(f"detaching volume {vol.name} failed: {path} is not attached to the VM")
    change = vim.vm.ConfigSpec(deviceChange=[specs.device_remove(disk)])
    s.wait(vm.ReconfigVM_Task(change), f"detaching volume {vol.name}", progress)


def _snapshot(s: Session, vm: vim.VirtualMachine, name: str) -> vim.vm.Snapshot:
    """The VM snapshot named `name`."""
    tree = s.props(vm, ["snapshot"]).get("snapshot")
    for node in specs.snapshot_walk(tree.rootSnapshotList if tree else None):
        if node.name == name:
            return node.snapshot
    raise DriverError(f"snapshot {name!r} not found on the virtual machine")


def snapshot(
    s: Session, vm: vim.VirtualMachine, name: str, memory: bool, progress: ProgressCallback | None
) -> SnapshotInfo:
    """CreateSnapshot_Task (with memory when asked), not quiesced."""
    task = vm.CreateSnapshot_Task(name, "virga snapshot", memory, False)
    snap = s.wait(task, f"taking snapshot {name}", progress)
    return SnapshotInfo(name=name, path=snap._moId if snap is not None else "", memory=memory)


def revert(s: Session, vm: vim.VirtualMachine, snap: SnapshotInfo, progress: ProgressCallback | None) -> None:
    """RevertToSnapshot_Task."""
    s.wait(_snapshot(s, vm, snap.name).RevertToSnapshot_Task(), f"reverting to snapshot {snap.name}", progress)


def remove_snapshot(s: Session, vm: vim.VirtualMachine, snap: SnapshotInfo, progress: ProgressCallback | None) -> None:
    """RemoveSnapshot_Task, keeping child snapshots."""
    s.wait(_snapshot(s, vm, snap.name).RemoveSnapshot_Task(False), f"removing snapshot {snap.name}", progress)


def relocate(
    s: Session, vm: vim.VirtualMachine, spec: vim.vm.RelocateSpec, live: bool, progress: ProgressCallback | None
) -> None:
    """RelocateVM_Task; a cold move refuses a running VM, a live one needs vMotion on the hosts."""
    state = power_state(s, vm)
    if not live and state == "poweredOn":
        raise DriverError("cold migration failed: the virtual machine is running; stop it or migrate live")
    s.wait(vm.RelocateVM_Task(spec), "relocating virtual machine", progress)


def stats(s: Session, vm: vim.VirtualMachine, uuid: str, perf: PerfReader) -> InstanceStats:
    """CPU and memory from summary.quickStats; disk and network totals from the PerformanceManager."""
    row = s.props(
        vm,
        [
            "summary.quickStats",
            "config.hardware.memoryMB",
            "runtime.maxCpuUsage",
            "runtime.bootTime",
            "runtime.powerState",
        ],
    )
    if row.get("runtime.powerState") != "poweredOn":
        raise DriverError(f"instance {uuid} is {row.get('runtime.powerState')}: statistics need a running VM")
    io = perf.read(s.content.perfManager, vm, uuid, row.get("runtime.bootTime"))
    qs = row.get("summary.quickStats")
    mem_kb = int(row.get("config.hardware.memoryMB", 0)) * 1024
    max_cpu = int(row.get("runtime.maxCpuUsage") or 0)
    pct = 100.0 * int(qs.overallCpuUsage or 0) / max_cpu if qs is not None and max_cpu else 0.0
    used_kb = int(qs.guestMemoryUsage or 0) * 1024 if qs is not None else 0
    return InstanceStats(
        cpu_percent=pct,
        memory_kb=mem_kb,
        memory_used_kb=used_kb,
        disk_read_bytes=io["disk_read_bytes"],
        disk_write_bytes=io["disk_write_bytes"],
        disk_read_ops=io["disk_read_ops"],
        disk_write_ops=io["disk_write_ops"],
        net_rx_bytes=io["net_rx_bytes"],
        net_tx_bytes=io["net_tx_bytes"],
    )
