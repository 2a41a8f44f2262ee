"""Disk snapshots (full qcow2 copies in the pool) and VM snapshots (libvirt internal snapshots)."""

from __future__ import annotations

from xml.sax.saxutils import escape

import libvirt
from virga.drivers.base import DriverError, InvalidSpec, NotSupported, SnapshotInfo, VolumeSpec
from virga.drivers.libvirt import storage


def _in_use(conn: libvirt.virConnect, path: str) -> str | None:
    """The name of a running domain using a disk path, if any."""
    for dom in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
        xml = dom.XMLDesc(0)
        if f"'{path}'" in xml or f'"{path}"' in xml:
            return str(dom.name())
    return None


def _refuse_running(conn: libvirt.virConnect, path: str, what: str) -> None:
    """Refuse a disk snapshot operation on a volume a running guest uses."""
    user = _in_use(conn, path)
    if user is not None:
        raise DriverError(f"{what} of a volume in use by running instance {user} is not implemented yet; stop it first")


def _volume(conn: libvirt.virConnect, spec: VolumeSpec) -> libvirt.virStorageVol:
    """The libvirt volume of a spec; InvalidSpec when absent."""
    vol = storage.find_volume(conn, spec)
    if vol is None:
        raise InvalidSpec(f"volume {spec.name} does not exist")
    return vol


def snapshot_volume(conn: libvirt.virConnect, spec: VolumeSpec, name: str) -> SnapshotInfo:
    """Copy a volume into a snapshot volume next to it."""
    vol = _volume(conn, spec)
    _refuse_running(conn, vol.path(), "a disk snapshot")
    pool = vol.storagePoolLookupByVolume()
    snap_name = f"{storage.volume_name(spec)}.snap-{name}"
    capacity = vol.info()[1]
    xml = (
        f"<volume><name>{escape(snap_name)}</name><capacity>{capacity}</capacity>"
        "<target><format type='qcow2'/></target></volume>"
    )
    snap = pool.createXMLFrom(xml, vol, 0)
    return SnapshotInfo(name=name, path=snap.path(), size_bytes=snap.info()[2])


def revert_volume(conn: libvirt.virConnect, spec: VolumeSpec, snap: SnapshotInfo) -> None:
    """Replace a volume's content with its snapshot's."""
    vol = _volume(conn, spec)
    _refuse_running(conn, vol.path(), "reverting a disk snapshot")
    source = conn.storageVolLookupByPath(snap.path)
    pool = vol.storagePoolLookupByVolume()
    name, capacity = vol.name(), vol.info()[1]
    vol.delete(0)
    xml = (
        f"<volume><name>{escape(name)}</name><capacity>{capacity}</capacity>"
        "<target><format type='qcow2'/></target></volume>"
    )
    pool.createXMLFrom(xml, source, 0)


def delete_volume_snapshot(conn: libvirt.virConnect, snap: SnapshotInfo) -> None:
    """Delete a snapshot volume; absent ones are fine."""
    try:
        conn.storageVolLookupByPath(snap.path).delete(0)
    except libvirt.libvirtError as err:
        if err.get_error_code() != libvirt.VIR_ERR_NO_STORAGE_VOL:
            raise


def snapshot_domain(dom: libvirt.virDomain, name: str, memory: bool) -> SnapshotInfo:
    """An internal VM snapshot: disks only when stopped, disks and memory when running."""
    running = bool(dom.isActive())
    if running and not memory:
        raise NotSupported(
            "a disk-only VM snapshot of a running KVM guest is not supported yet; "
            "take it with memory or stop the instance"
        )
    if memory and not running:
        memory = False
    dom.snapshotCreateXML(f"<domainsnapshot><name>{escape(name)}</name></domainsnapshot>", 0)
    return SnapshotInfo(name=name, memory=memory)


def revert_domain(dom: libvirt.virDomain, snap: SnapshotInfo) -> None:
    """Roll a domain back to a snapshot."""
    dom.revertToSnapshot(dom.snapshotLookupByName(snap.name, 0), 0)


def delete_domain_snapshot(dom: libvirt.virDomain, snap: SnapshotInfo) -> None:
    """Delete a VM snapshot."""
    dom.snapshotLookupByName(snap.name, 0).delete(0)
