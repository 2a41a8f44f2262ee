"""Power-state events from the PropertyCollector (WaitForUpdatesEx), blocking side."""

from __future__ import annotations

from typing import Any

from pyVmomi import vim, vmodl
from virga.drivers.base import InstanceEvent
from virga.drivers.vmware.session import Session
from virga.drivers.vmware.states import power_state

PROPS = ["runtime.powerState", "config.instanceUuid", "runtime.host"]


class Watcher:
    """A private PropertyCollector watching every VM's power state."""

    def __init__(self, s: Session, host: vim.HostSystem | None) -> None:
        """Create the collector, a container view of VMs and one filter over it."""
        self.host = host
        self.version = ""
        self.known: dict[str, dict[str, Any]] = {}
        self.view = s.content.viewManager.CreateContainerView(s.content.rootFolder, [vim.VirtualMachine], True)
        self.pc = s.content.propertyCollector.CreatePropertyCollector()
        pcs = vmodl.query.PropertyCollector
        spec = pcs.FilterSpec(
            objectSet=[
                pcs.ObjectSpec(
                    obj=self.view,
                    skip=True,
                    selectSet=[pcs.TraversalSpec(name="view", path="view", skip=False, type=vim.view.ContainerView)],
                )
            ],
            propSet=[pcs.PropertySpec(type=vim.VirtualMachine, pathSet=PROPS)],
        )
        self.pc.CreateFilter(spec, True)

    def poll(self, wait_seconds: int) -> list[InstanceEvent]:
        """Wait up to wait_seconds for changes; the first (initial) batch only primes the state."""
        opts = vmodl.query.PropertyCollector.WaitOptions(maxWaitSeconds=wait_seconds)
        update = self.pc.WaitForUpdatesEx(self.version, opts)
        if update is None:
            return []
        priming = self.version == ""
        self.version = update.version
        out: list[InstanceEvent] = []
        for fs in update.filterSet or ():
            for oc in fs.objectSet or ():
                event = self._apply(oc)
                if event is not None and not priming:
                    out.append(event)
        return out

    def _apply(self, oc: vmodl.query.PropertyCollector.ObjectUpdate) -> InstanceEvent | None:
        """Fold one object update into what we know; an event when its power state changed."""
        row = self.known.setdefault(oc.obj._moId, {})
        if oc.kind == "leave":
            self.known.pop(oc.obj._moId, None)
            return None
        changed = False
        for change in oc.changeSet or ():
            row[change.name] = change.val
            changed |= change.name == "runtime.powerState"
        uuid = row.get("config.instanceUuid")
        if not changed or not uuid or (self.host is not None and row.get("runtime.host") != self.host):
            return None
        return InstanceEvent(uuid=uuid, state=power_state(row["runtime.powerState"]), reason=f"powerState {oc.kind}")

    def close(self) -> None:
        """Destroy the private collector and the view."""
        try:
            self.pc.DestroyPropertyCollector()
            self.view.DestroyView()
        except Exception:  # noqa: BLE001 - best effort on the way out
            pass
