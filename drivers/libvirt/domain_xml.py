"""Pure rendering of libvirt domain and disk XML from virga's specs (golden-file tested)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping

from virga.drivers.base import InstanceSpec, InvalidSpec, NicSpec, TemplateSpec, VolumeSpec

NS = "http://virga.dev/xmlns/libvirt/instance/1"
NS_PREFIX = "virga"
PREFIXES = {"virtio": "vd", "ide": "hd", "sata": "sd", "scsi": "sd"}
TRUE = {"1", "true", "yes", "on"}


def _flag(details: Mapping[str, str], key: str) -> bool:
    """Whether a spec detail is set to a true-ish value."""
    return str(details.get(key, "")).strip().lower() in TRUE


def disk_bus(details: Mapping[str, str]) -> str:
    """The disk bus for a guest: virtio unless the details say it lacks virtio."""
    if str(details.get("virtio", "true")).lower() in {"0", "false", "no", "off"}:
        return details.get("disk_bus", "ide")
    return details.get("disk_bus", "virtio")


def nic_model(details: Mapping[str, str], nic: NicSpec) -> str:
    """The NIC model for a guest: e1000 when the details say it lacks virtio."""
    if str(details.get("virtio", "true")).lower() in {"0", "false", "no", "off"}:
        return details.get("nic_model", "e1000")
    return details.get("nic_model", nic.model or "virtio")


def target_dev(bus: str, index: int) -> str:
    """The guest device name for the index-th disk on a bus (vda, vdb, hda...)."""
    if index < 0 or index > 25 or (bus == "ide" and index > 3):
        raise InvalidSpec(f"disk index {index} does not fit on the {bus} bus")
    return PREFIXES.get(bus, "vd") + chr(ord("a") + index)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    """Append a child element with attributes and optional text."""
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def _to_text(root: ET.Element) -> str:
    """Serialise an element tree, indented, without an XML declaration."""
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="unicode") + "\n"


def disk_element(vol: VolumeSpec, bus: str, index: int) -> ET.Element:
    """A <disk> element for one volume."""
    if not vol.path:
        raise InvalidSpec(f"volume {vol.uuid} has no path; prepare it first")
    disk = ET.Element("disk", {"type": "file", "device": "disk"})
    _sub(disk, "driver", name="qemu", type=vol.format.lower(), discard="unmap")
    _sub(disk, "source", file=vol.path)
    _sub(disk, "target", dev=target_dev(bus, index), bus=bus)
    _sub(disk, "serial", vol.uuid.replace("-", "")[:20])
    return disk


def render_disk(vol: VolumeSpec, bus: str = "virtio") -> str:
    """Disk XML for attaching a volume (its device_id picks the device name)."""
    return _to_text(disk_element(vol, bus, vol.device_id))


def _cdrom(iso: TemplateSpec, index: int) -> ET.Element:
    """A read-only IDE cdrom for an ISO given by local path or file:// URL."""
    path = iso.url.removeprefix("file://")
    if not path.startswith("/"):
        raise InvalidSpec(f"ISO {iso.name}: only local paths or file:// URLs are supported yet")
    disk = ET.Element("disk", {"type": "file", "device": "cdrom"})
    _sub(disk, "driver", name="qemu", type="raw")
    _sub(disk, "source", file=path)
    _sub(disk, "target", dev=target_dev("ide", index), bus="ide")
    _sub(disk, "readonly")
    return disk


def _interface(spec: InstanceSpec, nic: NicSpec) -> ET.Element:
    """A bridged <interface> for one NIC."""
    if not nic.bridge:
        raise InvalidSpec(f"NIC {nic.uuid} has no bridge")
    iface = ET.Element("interface", {"type": "bridge"})
    _sub(iface, "mac", address=nic.mac.lower())
    _sub(iface, "source", bridge=nic.bridge)
    _sub(iface, "model", type=nic_model(spec.details, nic))
    _sub(iface, "rom", enabled="no")  # virga never network-boots: skip loading the iPXE option ROM
    return iface


def _metadata(root: ET.Element, spec: InstanceSpec) -> None:
    """The metadata element that marks the domain as managed by virga."""
    meta = _sub(root, "metadata")
    attrs = {"xmlns:" + NS_PREFIX: NS, "uuid": spec.uuid, "display-name": spec.display_name}
    if spec.hostname:
        attrs["hostname"] = spec.hostname
    _sub(meta, f"{NS_PREFIX}:instance", **attrs)


def _os(root: ET.Element, spec: InstanceSpec) -> None:
    """The <os> block: BIOS boot from the disk (the ISO first when one is attached)."""
    os_el = _sub(root, "os")
    _sub(os_el, "type", "hvm", arch="x86_64", machine="pc")
    if spec.iso is not None:
        _sub(os_el, "boot", dev="cdrom")
    _sub(os_el, "boot", dev="hd")
    _sub(os_el, "bootmenu", enable="no")


def _devices(root: ET.Element, spec: InstanceSpec, log_dir: str) -> None:
    """Disks, NICs, the serial console with its log file and optional VNC."""
    dev = _sub(root, "devices")
    if not _flag(spec.details, "vnc"):
        _sub(dev, "controller", type="usb", model="none")  # no USB devices without a display
    bus = disk_bus(spec.details)
    for i, vol in enumerate(sorted(spec.volumes, key=lambda v: v.device_id)):
        dev.append(disk_element(vol, bus, vol.device_id or i))
    if spec.iso is not None:
        dev.append(_cdrom(spec.iso, 2))
    for nic in sorted(spec.nics, key=lambda n: n.device_id):
        dev.append(_interface(spec, nic))
    serial = _sub(dev, "serial", type="pty")
    _sub(serial, "log", file=f"{log_dir.rstrip('/')}/{spec.name}.console.log", append="off")
    _sub(serial, "target", port="0")
    console = _sub(dev, "console", type="pty")
    _sub(console, "target", type="serial", port="0")
    if _flag(spec.details, "vnc"):
        listen = spec.details.get("vnc_listen", "127.0.0.1")
        _sub(dev, "graphics", type="vnc", port="-1", autoport="yes", listen=listen)
        _sub(_sub(dev, "video"), "model", type="cirrus")
    _sub(dev, "memballoon", model="virtio")


def render_domain(spec: InstanceSpec, domain_type: str, log_dir: str = "/var/log/libvirt/qemu") -> str:
    """The domain XML for an instance spec (pure: no I/O)."""
    if spec.cpus < 1 or spec.memory_mb < 16:
        raise InvalidSpec(f"instance {spec.name}: needs at least 1 CPU and 16 MB of memory")
    root = ET.Element("domain", {"type": domain_type})
    _sub(root, "name", spec.name)
    _sub(root, "uuid", spec.uuid)
    _sub(root, "title", spec.display_name or spec.name)
    _metadata(root, spec)
    _sub(root, "memory", str(spec.memory_mb), unit="MiB")
    _sub(root, "currentMemory", str(spec.memory_mb), unit="MiB")
    _sub(root, "vcpu", str(spec.cpus))
    if spec.cpu_mhz:
        _sub(_sub(root, "cputune"), "shares", str(max(2, spec.cpus * spec.cpu_mhz)))
    _os(root, spec)
    features = _sub(root, "features")
    _sub(features, "acpi")
    _sub(features, "apic")
    if domain_type == "kvm":
        _sub(root, "cpu", mode="host-model")
    _sub(root, "clock", offset="utc")
    _sub(root, "on_poweroff", "destroy")
    _sub(root, "on_reboot", "restart")
    _sub(root, "on_crash", "destroy")
    _devices(root, spec, log_dir)
    return _to_text(root)
