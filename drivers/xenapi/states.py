"""Pure translations from XAPI records to the driver contract's types."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from virga.drivers.base import HostFacts, InstanceInfo, PoolSpec, PowerState, TemplateSpec

STATE_MAP: Mapping[str, PowerState] = {
    "Running": PowerState.RUNNING,
    "Halted": PowerState.STOPPED,
    "Paused": PowerState.SUSPENDED,
    "Suspended": PowerState.SUSPENDED,
}
VIRGA_KEY = "virga_uuid"
VOLUME_KEY = "virga_volume"
NULL = "OpaqueRef:NULL"


def is_guest(rec: Mapping[str, Any]) -> bool:
    """Whether a VM record is a real guest (not a template, snapshot or control domain)."""
    return not (rec.get("is_a_template") or rec.get("is_a_snapshot") or rec.get("is_control_domain"))


def guest_uuid(rec: Mapping[str, Any]) -> str:
    """The uuid virga knows a VM by: the one it gave at creation, else XenServer's."""
    return str(rec.get("other_config", {}).get(VIRGA_KEY) or rec["uuid"])


def task_result(text: str) -> str:
    """The value of a task result (XAPI wraps it in <value>...</value>)."""
    text = text.strip()
    for tag in ("<value>", "</value>"):
        text = text.replace(tag, "")
    return text


def to_instance(rec: Mapping[str, Any], host_name: str = "") -> InstanceInfo:
    """An InstanceInfo from a VM record."""
    return InstanceInfo(
        uuid=guest_uuid(rec),
        name=str(rec["name_label"]),
        state=STATE_MAP.get(str(rec["power_state"]), PowerState.UNKNOWN),
        cpus=int(rec.get("VCPUs_at_startup", 0)),
        memory_mb=int(rec.get("memory_static_max", 0)) >> 20,
        extra={"xenserver_uuid": str(rec["uuid"]), "host": host_name, "power_state": str(rec["power_state"])},
    )


def to_facts(host: Mapping[str, Any], metrics: Mapping[str, Any], pool_name: str) -> HostFacts:
    """HostFacts from a host record and its host_metrics."""
    version = host.get("software_version", {})
    cpu = host.get("cpu_info", {})
    return HostFacts(
        name=str(host["name_label"]),
        hypervisor="XenServer",
        hypervisor_version=str(version.get("product_version") or version.get("platform_version", "")),
        cpu_model=str(cpu.get("modelname", "")),
        cpu_count=int(cpu.get("cpu_count") or len(host["host_CPUs"])),
        cpu_mhz=int(float(cpu.get("speed", "0"))),
        memory_bytes=int(metrics.get("memory_total", "0")),
        accelerator="xen",
        extra={
            "uuid": str(host["uuid"]),
            "address": str(host.get("address", "")),
            "pool": pool_name,
            "product_brand": str(version.get("product_brand", "")),
            "xen": str(version.get("xen", "")),
        },
    )


def to_pool(rec: Mapping[str, Any]) -> PoolSpec:
    """A PoolSpec (kind "sr") from an SR record."""
    return PoolSpec(
        uuid=str(rec["uuid"]),
        name=str(rec["name_label"]),
        kind="sr",
        url=f"xenserver-sr://{rec['type']}/{rec['uuid']}",
        path=str(rec["uuid"]),
    )


def to_template(rec: Mapping[str, Any], size: int) -> TemplateSpec:
    """A TemplateSpec from a template VM record and the size of its disks."""
    return TemplateSpec(
        uuid=str(rec["uuid"]),
        name=str(rec["name_label"]),
        url=f"xenserver-template://{rec['uuid']}",
        format="VHD",
        size_bytes=size,
        os_type=str(rec.get("other_config", {}).get("os", rec["name_label"])),
        details={"xenserver_template": str(rec["uuid"])},
    )
