"""The metrics response objects: virtualmachine and host objects with usage figures added."""

from __future__ import annotations

from typing import Any

from virga.api.views.fields import FIELDS
from virga.drivers.base import InstanceStats
from virga.models import Host, VirtualMachine
from virga.services.states import HostState

MB = 1024 * 1024
_VM_METRICS = (
    "cputotal cpuused memorytotal memorykbs memoryintfreekbs memorytargetkbs networkread networkwrite "
    "networkkbsread networkkbswrite diskread diskwrite diskkbsread diskkbswrite diskiopstotal diskioread "
    "diskiowrite ipaddress"
)
FIELDS["virtualmachinemetrics"] = FIELDS.get("virtualmachine", "") + " " + _VM_METRICS
FIELDS["hostmetrics"] = FIELDS.get("host", "") + (
    " instances cputotalghz cpuallocatedghz cpuusedghz memorytotalgb memoryallocatedgb memoryusedgb powerstate"
)


def vm_metrics(vm: dict[str, Any], st: InstanceStats | None) -> dict[str, Any]:
    """CloudStack's metrics fields of a VM (usage only when its host answered)."""
    ghz = vm.get("cpunumber", 0) * vm.get("cpuspeed", 0) / 1000
    out = {
        "cputotal": f"{ghz:.2f} Ghz",
        "memorytotal": f"{vm.get('memory', 0):.2f} MB",
        "ipaddress": next((n.get("ipaddress") for n in vm.get("nic", []) if n.get("isdefault")), None),
    }
    if st is not None:
        out.update(
            {
                "cpuused": f"{st.cpu_percent:.2f}%",
                "memorykbs": st.memory_kb,
                "memoryintfreekbs": max(0, st.memory_kb - st.memory_used_kb),
                "memorytargetkbs": st.memory_kb,
                **_io_metrics("network", "read", st.net_rx_bytes),
                **_io_metrics("network", "write", st.net_tx_bytes),
                **_io_metrics("disk", "read", st.disk_read_bytes),
                **_io_metrics("disk", "write", st.disk_write_bytes),
                "diskioread": st.disk_read_ops,
                "diskiowrite": st.disk_write_ops,
                "diskiopstotal": None
                if st.disk_read_ops is None or st.disk_write_ops is None
                else st.disk_read_ops + st.disk_write_ops,
            }
        )
    return {k: v for k, v in out.items() if v is not None}


def _io_metrics(kind: str, way: str, total: int | None) -> dict[str, Any]:
    """The KB and MB fields of one byte counter; none when the hypervisor cannot tell it."""
    if total is None:
        return {}
    return {f"{kind}kbs{way}": total // 1024, f"{kind}{way}": f"{total / MB:.2f} MB"}


def host_metrics(h: Host, vms: list[VirtualMachine], stats: dict[str, InstanceStats]) -> dict[str, Any]:
    """A host's metrics fields: allocation from the database; usage from the guests that answered."""
    total_mhz = h.cpunumber * h.cpuspeed
    out: dict[str, Any] = {
        "instances": len(vms),
        "cputotalghz": f"{total_mhz / 1000:.2f} Ghz",
        "cpuallocatedghz": f"{h.cpuallocated / 1000:.2f} Ghz",
        "memorytotalgb": f"{h.memorytotal / 2**30:.2f} GB",
        "memoryallocatedgb": f"{h.memoryallocated / 2**30:.2f} GB",
        "powerstate": "On" if h.state == HostState.UP else "Unknown",
    }
    answered = [stats[v.uuid] for v in vms if v.uuid in stats]
    if len(answered) == len(vms):
        used_mhz = sum(s.cpu_percent / 100 * v.cpunumber * v.cpuspeed for v, s in ((v, stats[v.uuid]) for v in vms))
        out.update(
            {
                "cpuusedghz": f"{used_mhz / 1000:.2f} Ghz",
                "cpuused": f"{(used_mhz / total_mhz * 100) if total_mhz else 0:.2f}%",
                "memoryusedgb": f"{sum(s.memory_used_kb for s in answered) / 2**20:.2f} GB",
            }
        )
    return out
