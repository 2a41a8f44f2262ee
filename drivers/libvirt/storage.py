"""Primary storage through libvirt's storage-pool API: pools, template bases, overlays."""

from __future__ import annotations

import os
import struct
import threading
import uuid as uuidlib
import xml.etree.ElementTree as ET
from collections.abc import Callable
from xml.sax.saxutils import escape

import libvirt
from virga.drivers.base import (
    DriverError,
    InvalidSpec,
    NotSupported,
    PoolSpec,
    PoolStats,
    TemplateSpec,
    VolumeInfo,
    VolumeSpec,
)

_BASE_LOCK = threading.Lock()
QCOW2_MAGIC = b"QFI\xfb"


def _is_uuid(value: str) -> bool:
    """Whether a string is a UUID libvirt can look a pool up by."""
    try:
        uuidlib.UUID(value)
    except ValueError:
        return False
    return True


def pool_xml(pool: PoolSpec) -> str:
    """The XML of a directory pool for a PoolSpec (pure)."""
    uuid_el = f"<uuid>{pool.uuid}</uuid>" if _is_uuid(pool.uuid) else ""
    return (
        f"<pool type='dir'><name>{escape(pool.name)}</name>{uuid_el}"
        f"<target><path>{escape(pool.path)}</path></target></pool>"
    )


def find_pool(conn: libvirt.virConnect, pool: PoolSpec) -> libvirt.virStoragePool:
    """The libvirt pool for a PoolSpec: looked up, else defined as a directory pool; active."""
    found = None
    for lookup, key in ((conn.storagePoolLookupByUUIDString, pool.uuid), (conn.storagePoolLookupByName, pool.name)):
        if key and (lookup is not conn.storagePoolLookupByUUIDString or _is_uuid(key)):
            try:
                found = lookup(key)
                break
            except libvirt.libvirtError:
                continue
    if found is None:
        if not pool.path:
            raise InvalidSpec(f"pool {pool.name} is not defined on the host and has no path")
        found = conn.storagePoolDefineXML(pool_xml(pool), 0)
        found.build(0)
        found.setAutostart(1)
    if not found.isActive():
        found.create(0)
    return found


def _pool_or_none(lookup: Callable[[str], libvirt.virStoragePool], key: str) -> libvirt.virStoragePool | None:
    """A pool looked up by uuid or name, or None when libvirt has no such pool."""
    try:
        return lookup(key)
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_POOL:
            return None
        raise


def _defined_by_virga(conn: libvirt.virConnect, pool: PoolSpec) -> libvirt.virStoragePool | None:
    """The libvirt pool find_pool() defined for a PoolSpec (its uuid, else its name and path), or None."""
    if _is_uuid(pool.uuid):
        return _pool_or_none(conn.storagePoolLookupByUUIDString, pool.uuid)
    found = _pool_or_none(conn.storagePoolLookupByName, pool.name)
    if found is None or not pool.path or f"<path>{escape(pool.path)}</path>" not in found.XMLDesc(0):
        return None
    return found


def release(conn: libvirt.virConnect, pool: PoolSpec) -> bool:
    """Stop and undefine the libvirt pool of a primary pool, leaving its files; whether there was one."""
    found = _defined_by_virga(conn, pool)
    if found is None:
        return False
    if found.isActive():
        found.destroy()
    if found.isPersistent():
        found.undefine()
    return True


def template_file(tmpl: TemplateSpec) -> tuple[str, str, int]:
    """(local path, format, virtual size) of a template; InvalidSpec unless it is a disk image."""
    if tmpl.is_iso:
        raise InvalidSpec(f"template {tmpl.name} is an ISO, not a disk image")
    url = tmpl.url
    if url.startswith("nfs://"):  # a template or snapshot backup on the NFS image store: a local cached copy
        from virga.appliance.storage.cache import local_copy

        url = local_copy(url)
    if "://" in url and not url.startswith("file://"):
        raise NotSupported(f"template {tmpl.name}: only local paths and file:// URLs are supported yet")
    path = url.removeprefix("file://")
    try:
        with open(path, "rb") as f:
            head = f.read(512)
        size = os.path.getsize(path)
    except OSError as err:
        raise InvalidSpec(f"template {tmpl.name}: cannot read {path}: {err.strerror}") from err
    if head[:4] == QCOW2_MAGIC and len(head) >= 32:
        if struct.unpack(">Q", head[8:16])[0]:
            raise InvalidSpec(f"template {tmpl.name}: a qcow2 template must not have a backing file")
        return path, "qcow2", struct.unpack(">Q", head[24:32])[0]
    if len(head) == 512 and head[510:512] == b"\x55\xaa":
        return path, "raw", size
    raise InvalidSpec(f"template {tmpl.name}: {path} is not a disk image (neither qcow2 nor a bootable raw disk)")


def _vol_xml(name: str, capacity: int, fmt: str, backing: tuple[str, str] | None = None) -> str:
    """Volume XML, optionally with a backing store (pure)."""
    back = ""
    if backing is not None:
        back = f"<backingStore><path>{escape(backing[0])}</path><format type='{backing[1]}'/></backingStore>"
    return (
        f"<volume><name>{escape(name)}</name><capacity unit='bytes'>{capacity}</capacity>"
        f"<target><format type='{fmt}'/></target>{back}</volume>"
    )


def _lookup(pool: libvirt.virStoragePool, name: str) -> libvirt.virStorageVol | None:
    """A volume by name, or None."""
    try:
        return pool.storageVolLookupByName(name)
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_VOL:
            return None
        raise


def _upload(conn: libvirt.virConnect, vol: libvirt.virStorageVol, path: str) -> None:
    """Stream a local file into a volume (works over qemu+ssh:// too)."""
    size = os.path.getsize(path)
    stream = conn.newStream(0)
    try:
        vol.upload(stream, 0, size, 0)
        with open(path, "rb") as f:
            stream.sendAll(lambda _s, n, fh: fh.read(n), f)
        stream.finish()
    except BaseException:
        try:
            stream.abort()
        except libvirt.libvirtError:
            pass
        raise


def base_volume(conn: libvirt.virConnect, pool: libvirt.virStoragePool, tmpl: TemplateSpec) -> libvirt.virStorageVol:
    """The template's base image in the pool, copied there on first use."""
    path, fmt, vsize = template_file(tmpl)
    name = f"virga-template-{tmpl.uuid}.{fmt}"
    with _BASE_LOCK:
        vol = _lookup(pool, name)
        if vol is not None:
            return vol
        vol = pool.createXML(_vol_xml(name, vsize, fmt), 0)
        try:
            _upload(conn, vol, path)
        except libvirt.libvirtError as err:
            if not (conn.getURI().startswith("test:") and err.get_error_code() == libvirt.VIR_ERR_NO_SUPPORT):
                vol.delete(0)
                raise
        pool.refresh(0)
        return pool.storageVolLookupByName(name)


def volume_name(vol: VolumeSpec) -> str:
    """The file name of a volume in its pool."""
    return os.path.basename(vol.path) if vol.path else f"{vol.uuid}.{vol.format.lower()}"


def _info(vol: libvirt.virStorageVol) -> VolumeInfo:
    """VolumeInfo of a libvirt volume."""
    _kind, capacity, allocation = vol.info()
    return VolumeInfo(path=vol.path(), size_bytes=capacity, physical_bytes=allocation)


def prepare(conn: libvirt.virConnect, spec: VolumeSpec, tmpl: TemplateSpec | None) -> VolumeInfo:
    """Create a root overlay on the template's base, or a blank qcow2."""
    if spec.format.upper() != "QCOW2":
        raise InvalidSpec(f"volume {spec.name}: only QCOW2 volumes are supported")
    pool = find_pool(conn, spec.pool)
    name = volume_name(spec)
    existing = _lookup(pool, name)
    if existing is not None:
        return _info(existing)
    if tmpl is None:
        if spec.size_bytes <= 0:
            raise InvalidSpec(f"volume {spec.name}: a blank volume needs a size")
        return _info(pool.createXML(_vol_xml(name, spec.size_bytes, "qcow2"), 0))
    base = base_volume(conn, pool, tmpl)
    _fmt, vsize, _alloc = base.info()
    base_fmt = "qcow2" if base.name().endswith(".qcow2") else "raw"
    xml = _vol_xml(name, max(spec.size_bytes, vsize), "qcow2", (base.path(), base_fmt))
    return _info(pool.createXML(xml, 0))


def find_volume(conn: libvirt.virConnect, spec: VolumeSpec) -> libvirt.virStorageVol | None:
    """The libvirt volume of a spec, or None when absent."""
    pool = find_pool(conn, spec.pool)
    return _lookup(pool, volume_name(spec))


def delete(conn: libvirt.virConnect, spec: VolumeSpec) -> None:
    """Delete a volume; absent volumes are fine."""
    vol = find_volume(conn, spec)
    if vol is not None:
        vol.delete(0)


def resize(conn: libvirt.virConnect, spec: VolumeSpec, size: int) -> VolumeInfo:
    """Grow a volume (shrinking is refused)."""
    vol = find_volume(conn, spec)
    if vol is None:
        raise InvalidSpec(f"volume {spec.name} does not exist")
    if size < vol.info()[1]:
        raise InvalidSpec(f"volume {spec.name}: shrinking is not supported")
    vol.resize(size, 0)
    return _info(vol)


def _disk_users(conn: libvirt.virConnect, path: str) -> list[libvirt.virDomain]:
    """Every domain (running or not) whose definition has a disk with that source file."""
    users = []
    for dom in conn.listAllDomains(0):
        tree = ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        if any(src.get("file") == path for src in tree.iterfind("./devices/disk/source")):
            users.append(dom)
    return users


def _repoint(conn: libvirt.virConnect, dom: libvirt.virDomain, old: str, new: str) -> None:
    """Redefine a stopped domain with the disk at `old` now read from `new` (a qcow2)."""
    flags = libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE
    tree = ET.fromstring(dom.XMLDesc(flags))
    for disk in tree.iterfind("./devices/disk"):
        src, drv = disk.find("source"), disk.find("driver")
        if src is not None and src.get("file") == old:
            src.set("file", new)
            if drv is not None:
                drv.set("type", "qcow2")
    conn.defineXML(ET.tostring(tree, encoding="unicode"))


def migrate(conn: libvirt.virConnect, spec: VolumeSpec, target: PoolSpec) -> VolumeInfo:
    """Copy a volume (flattened to a standalone qcow2) into another pool, repoint stopped guests, delete the source.

    A disk a running guest uses is refused (NotSupported): the copy would miss its writes.
    """
    vol = find_volume(conn, spec)
    if vol is None:
        raise InvalidSpec(f"volume {spec.name} does not exist")
    old = vol.path()
    users = _disk_users(conn, old)
    running = [str(d.name()) for d in users if d.isActive()]
    if running:
        raise NotSupported(
            f"moving volume {spec.name} of running instance {running[0]} to another pool is not supported; stop it"
        )
    dst = find_pool(conn, target)
    if dst.UUIDString() == vol.storagePoolLookupByVolume().UUIDString():
        raise InvalidSpec(f"volume {spec.name} is already on pool {target.name}")
    name = volume_name(spec)
    if _lookup(dst, name) is not None:
        raise InvalidSpec(f"volume {name} already exists on pool {target.name}")
    capacity = vol.info()[1]
    # no backing store in the new volume's XML: libvirt's qemu-img convert reads through the chain
    copy = dst.createXMLFrom(_vol_xml(name, capacity, "qcow2"), vol, 0)
    done: list[libvirt.virDomain] = []
    try:
        if copy.info()[1] != capacity:
            raise DriverError(f"copy of volume {spec.name} on pool {target.name} has the wrong size; source kept")
        for dom in users:
            _repoint(conn, dom, old, copy.path())
            done.append(dom)
    except BaseException:
        for dom in done:
            _repoint(conn, dom, copy.path(), old)
        copy.delete(0)
        raise
    vol.delete(0)
    return _info(copy)


def stats(conn: libvirt.virConnect, spec: PoolSpec) -> PoolStats:
    """Capacity and allocation of a pool."""
    pool = find_pool(conn, spec)
    pool.refresh(0)
    _state, capacity, allocation, _avail = pool.info()
    return PoolStats(capacity_bytes=capacity, used_bytes=allocation)
