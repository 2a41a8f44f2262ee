"""VM lifecycle for the vSphere driver: create, power, scale, disks, destroy."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pyVmomi import vim
from virga.drivers.base import DriverError, InstanceInfo, InstanceNotFound, InstanceSpec, VolumeSpec
from virga.drivers.vmware import inventory as inv
from virga.drivers.vmware import ops, provision

if TYPE_CHECKING:
    from virga.drivers.base import HostConnection, HostFacts
    from virga.drivers.vmware.perf import PerfReader
    from virga.drivers.vmware.session import ProgressCallback, Session

T = TypeVar("T")
DEFAULT_SHUTDOWN_TIMEOUT = 60.0


def _create(d: LifecycleMixin, spec: InstanceSpec) -> None:
    """Clone the named template or create a fresh VM; undo a half-made clone on failure."""
    s, where = d.session, d.where
    try:
        inv.find_vm(s, spec.uuid, None)
        raise DriverError(f"a virtual machine with uuid {spec.uuid} already exists")
    except InstanceNotFound:
        pass
    undo: list[Callable[[], None]] = []
    try:
        if spec.template is not None and not spec.template.is_iso:
            provision.clone_template(s, where, spec, undo, d.progress)
        else:
            provision.create_fresh(s, where, spec, d.progress)
    except BaseException:
        for step in reversed(undo):
            try:
                step()
            except Exception:  # noqa: BLE001 - keep undoing, report the original error
                pass
        raise


class LifecycleMixin:
    """Create/power/scale/attach/destroy, built on the driver's _run/_vm plumbing."""

    if TYPE_CHECKING:  # what VMwareDriver, the one class this is mixed into, provides
        conn: HostConnection
        progress: ProgressCallback | None
        perf: PerfReader

        @property
        def session(self) -> Session:
            """The live session."""

        @property
        def where(self) -> provision.Placement:
            """Where new VMs and volumes go."""

        async def connect(self) -> HostFacts:
            """Log in (once)."""

        async def get_instance(self, uuid: str) -> InstanceInfo:
            """One VM by uuid."""

        async def _vm(self, uuid: str) -> vim.VirtualMachine:
            """The VM with this uuid."""

        async def _run(self, what: str, fn: Callable[..., T], *args: Any) -> T:
            """Run a blocking call in a thread."""

    async def create_instance(self, spec: InstanceSpec) -> InstanceInfo:
        """Define (powered off) a VM from a vSphere template or fresh from the offering."""
        await self.connect()
        await self._run(f"creating virtual machine {spec.name}", _create, self, spec)
        return await self.get_instance(spec.uuid)

    async def _do(self, uuid: str, what: str, fn: Callable[..., Any], *args: Any) -> InstanceInfo:
        """Find the VM, run fn(session, vm, *args) in a thread, return the VM's new info."""
        vm = await self._vm(uuid)
        await self._run(f"{what} {uuid}", fn, self.session, vm, *args)
        return await self.get_instance(uuid)

    async def start_instance(self, uuid: str) -> InstanceInfo:
        """PowerOnVM_Task (noting the server time as the boot time for the perf totals)."""
        info = await self._do(uuid, "powering on", _task, "PowerOnVM_Task", "powering on", self.progress)
        self.perf.powered_on(uuid, await self._run("reading the server clock", self.session.si.CurrentTime))
        return info

    async def stop_instance(self, uuid: str, force: bool = False) -> InstanceInfo:
        """ShutdownGuest when tools run (power off after a timeout), else power off."""
        timeout = float(self.conn.options.get("shutdown_timeout", DEFAULT_SHUTDOWN_TIMEOUT))
        return await self._do(uuid, "powering off", ops.stop, force, timeout, self.progress)

    async def reboot_instance(self, uuid: str) -> InstanceInfo:
        """RebootGuest when tools run, else ResetVM_Task."""
        return await self._do(uuid, "rebooting", ops.reboot, self.progress)

    async def suspend_instance(self, uuid: str) -> InstanceInfo:
        """SuspendVM_Task."""
        return await self._do(uuid, "suspending", _task, "SuspendVM_Task", "suspending", self.progress)

    async def resume_instance(self, uuid: str) -> InstanceInfo:
        """PowerOnVM_Task on a suspended VM."""
        return await self._do(uuid, "resuming", _task, "PowerOnVM_Task", "resuming", self.progress)

    async def scale_instance(self, uuid: str, cpus: int, memory_mb: int) -> InstanceInfo:
        """ReconfigVM_Task with new CPU count and memory (VM stopped)."""
        return await self._do(uuid, "scaling", ops.scale, cpus, memory_mb, self.progress)

    async def attach_volume(self, uuid: str, vol: VolumeSpec) -> None:
        """ReconfigVM_Task adding the volume's disk."""
        await self._do(uuid, f"attaching {vol.name} to", ops.attach, vol, self.progress)

    async def detach_volume(self, uuid: str, vol: VolumeSpec) -> None:
        """ReconfigVM_Task removing the volume's disk (file kept)."""
        await self._do(uuid, f"detaching {vol.name} from", ops.detach, vol, self.progress)

    async def destroy_instance(self, uuid: str) -> None:
        """Power off, detach virga volumes, Destroy_Task."""
        vm = await self._vm(uuid)
        await self._run(f"destroying {uuid}", provision.destroy_vm, self.session, vm, self.progress)
        self.perf.forget(uuid)


def _task(s: Any, vm: vim.VirtualMachine, method: str, what: str, progress: Any) -> None:
    """Run a no-argument VM task method and wait for it."""
    s.wait(getattr(vm, method)(), what, progress)
