"""Blocking domain operations on one libvirt connection (called through asyncio.to_thread)."""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable

import libvirt
from virga.drivers.base import DriverError, InstanceInfo, InstanceNotFound, InvalidSpec, NotSupported, VolumeSpec
from virga.drivers.libvirt.domain_xml import NS, render_disk
from virga.drivers.libvirt.states import power_state

UNDEFINE_FLAGS = libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA


def lookup(conn: libvirt.virConnect, uuid: str) -> libvirt.virDomain:
    """A domain by uuid; InstanceNotFound when absent or the uuid is malformed."""
    try:
        return conn.lookupByUUIDString(uuid)
    except libvirt.libvirtError as err:
        if err.get_error_code() in (libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_INVALID_ARG):
            raise InstanceNotFound(f"instance {uuid} does not exist on this host") from err
        raise


def is_managed(dom: libvirt.virDomain) -> bool:
    """Whether virga's metadata element marks the domain."""
    try:
        dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, NS, 0)
    except libvirt.libvirtError:
        return False
    return True


def to_info(dom: libvirt.virDomain) -> InstanceInfo:
    """InstanceInfo of a libvirt domain."""
    state, max_kb, _mem_kb, ncpu, _cpu_ns = dom.info()
    return InstanceInfo(
        uuid=dom.UUIDString(),
        name=dom.name(),
        state=power_state(state),
        cpus=ncpu,
        memory_mb=max_kb // 1024,
        extra={"managed": "true" if is_managed(dom) else "false"},
    )


def wait_state(dom: libvirt.virDomain, wanted: int, timeout: float) -> bool:
    """Poll until the domain reaches a state; whether it did within the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if dom.state()[0] == wanted:
            return True
        time.sleep(0.2)
    return dom.state()[0] == wanted


def start(dom: libvirt.virDomain) -> None:
    """Power on (or resume a paused) domain."""
    state = dom.state()[0]
    if state == libvirt.VIR_DOMAIN_PAUSED:
        dom.resume()
    elif not dom.isActive():
        dom.create()


def stop(dom: libvirt.virDomain, force: bool, timeout: float) -> None:
    """ACPI shutdown with a timeout, then power off; or power off at once."""
    if not dom.isActive():
        return
    if not force:
        try:
            dom.shutdown()
        except libvirt.libvirtError:
            pass
        if wait_state(dom, libvirt.VIR_DOMAIN_SHUTOFF, timeout):
            return
    try:
        dom.destroy()
    except libvirt.libvirtError:
        if dom.isActive():
            raise


def destroy(dom: libvirt.virDomain) -> None:
    """Power off and undefine, with snapshot metadata and managed save."""
    stop(dom, force=True, timeout=0)
    try:
        dom.undefineFlags(UNDEFINE_FLAGS)
    except libvirt.libvirtError as err:
        if err.get_error_code() not in (libvirt.VIR_ERR_NO_SUPPORT, libvirt.VIR_ERR_INVALID_ARG):
            raise
        dom.undefine()


def rescale_xml(xml: str, cpus: int, memory_mb: int) -> str:
    """Domain XML with a new CPU count and memory size (pure)."""
    root = ET.fromstring(xml)
    ET.register_namespace("virga", NS)
    for tag in ("memory", "currentMemory"):
        el = root.find(tag)
        if el is not None:
            el.text, el.attrib = str(memory_mb * 1024), {"unit": "KiB"}
    vcpu = root.find("vcpu")
    if vcpu is None:
        raise InvalidSpec("domain has no vcpu element")
    vcpu.text = str(cpus)
    vcpu.attrib.pop("current", None)
    return ET.tostring(root, encoding="unicode")


def scale(conn: libvirt.virConnect, dom: libvirt.virDomain, cpus: int, memory_mb: int) -> None:
    """Change a stopped domain's CPUs and memory."""
    if dom.isActive():
        raise NotSupported("scaling a running KVM guest is not supported; stop it first")
    if cpus < 1 or memory_mb < 16:
        raise InvalidSpec("scale needs at least 1 CPU and 16 MB of memory")
    conn.defineXML(rescale_xml(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), cpus, memory_mb))


def _disks(dom: libvirt.virDomain, flags: int = 0) -> list[ET.Element]:
    """The domain's <disk> elements."""
    return ET.fromstring(dom.XMLDesc(flags)).findall("devices/disk")


def _bus(dom: libvirt.virDomain) -> str:
    """The bus the domain's first disk uses (so attached disks match it)."""
    for disk in _disks(dom, libvirt.VIR_DOMAIN_XML_INACTIVE):
        target = disk.find("target")
        if disk.get("device") == "disk" and target is not None:
            return target.get("bus", "virtio")
    return "virtio"


def _live_flags(dom: libvirt.virDomain) -> int:
    """Device flags touching the persistent config and, when running, the live domain."""
    flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG
    return flags | libvirt.VIR_DOMAIN_AFFECT_LIVE if dom.isActive() else flags


def _redefine(dom: libvirt.virDomain, change: Callable[[ET.Element], None]) -> None:
    """Edit a stopped domain's persistent XML and define it again (for drivers without device APIs)."""
    if dom.isActive():
        raise NotSupported("this libvirt driver cannot change devices of a running domain")
    root = ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE))
    devices = root.find("devices")
    if devices is None:
        raise InvalidSpec("domain has no devices element")
    change(devices)
    dom.connect().defineXML(ET.tostring(root, encoding="unicode"))


def _unsupported(err: libvirt.libvirtError) -> bool:
    """Whether a libvirt error says the API is not implemented by the connection's driver."""
    return err.get_error_code() == libvirt.VIR_ERR_NO_SUPPORT


def attach(dom: libvirt.virDomain, vol: VolumeSpec) -> None:
    """Attach a disk; hot-plugged when the domain runs."""
    xml = render_disk(vol, _bus(dom))
    try:
        dom.attachDeviceFlags(xml, _live_flags(dom))
    except libvirt.libvirtError as err:
        if not _unsupported(err):
            raise
        _redefine(dom, lambda devices: devices.append(ET.fromstring(xml)))


def _find_disk(dom: libvirt.virDomain, path: str, flags: int) -> ET.Element | None:
    """The <disk> element whose source is a path."""
    for disk in _disks(dom, flags):
        src = disk.find("source")
        if src is not None and src.get("file") == path:
            return disk
    return None


def _remove_disk(devices: ET.Element, path: str) -> None:
    """Remove the <disk> whose source is a path from a <devices> element."""
    for disk in devices.findall("disk"):
        src = disk.find("source")
        if src is not None and src.get("file") == path:
            devices.remove(disk)


def detach(dom: libvirt.virDomain, vol: VolumeSpec, timeout: float = 20.0) -> None:
    """Detach a disk (waits for the guest to release a hot-plugged one)."""
    disk = _find_disk(dom, vol.path, libvirt.VIR_DOMAIN_XML_INACTIVE) or _find_disk(dom, vol.path, 0)
    if disk is None:
        return
    flags = _live_flags(dom)
    if flags & libvirt.VIR_DOMAIN_AFFECT_LIVE and _find_disk(dom, vol.path, 0) is None:
        flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG
    try:
        dom.detachDeviceFlags(ET.tostring(disk, encoding="unicode"), flags)
    except libvirt.libvirtError as err:
        if not _unsupported(err):
            raise
        _redefine(dom, lambda devices: _remove_disk(devices, vol.path))
        return
    deadline = time.monotonic() + timeout
    while flags & libvirt.VIR_DOMAIN_AFFECT_LIVE and _find_disk(dom, vol.path, 0) is not None:
        if time.monotonic() > deadline:
            raise DriverError(f"the guest did not release volume {vol.name} within {timeout:.0f}s")
        time.sleep(0.2)


def cold_migrate(dom: libvirt.virDomain, target: libvirt.virConnect, domain_type: str) -> libvirt.virDomain:
    """Define a stopped domain on the target, then undefine it here (undone on failure)."""
    if dom.isActive():
        raise InvalidSpec("cold migration needs a stopped instance")
    xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE)
    xml = re.sub(r"^<domain type=['\"][^'\"]+['\"]", f"<domain type='{domain_type}'", xml, count=1)
    moved = target.defineXML(xml)
    try:
        dom.undefineFlags(UNDEFINE_FLAGS)
    except libvirt.libvirtError:
        moved.undefine()
        raise
    return moved


def live_migrate(dom: libvirt.virDomain, target_uri: str) -> None:
    """Live-migrate a running domain peer to peer (storage must be shared)."""
    flags = (
        libvirt.VIR_MIGRATE_LIVE
        | libvirt.VIR_MIGRATE_PEER2PEER
        | libvirt.VIR_MIGRATE_PERSIST_DEST
        | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE
    )
    dom.migrateToURI3(target_uri, {}, flags)
