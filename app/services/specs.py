"""Translate database rows into the driver contract's typed specs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select
from virga.drivers.base import InstanceSpec, NicSpec, PoolSpec, TemplateSpec, VolumeSpec
from virga.models import Network, Nic, OsType, StoragePool, Template, VirtualMachine, Volume


def pool_spec(pool: StoragePool) -> PoolSpec:
    """A pool as drivers see it."""
    return PoolSpec(uuid=pool.uuid, name=pool.name, kind=pool.type, url=pool.url, path=pool.path)


def template_spec(s: Session, t: Template) -> TemplateSpec:
    """A template as drivers see it."""
    os = s.get(OsType, t.ostype_id) if t.ostype_id else None
    return TemplateSpec(
        uuid=t.uuid,
        name=t.name,
        url=t.install_path or t.url,
        format=t.format,
        size_bytes=t.size,
        os_type=os.description if os else "Other (64-bit)",
        is_iso=t.is_iso,
        details={k: str(v) for k, v in (t.details or {}).items()},
    )


def volume_spec(s: Session, v: Volume | Any) -> VolumeSpec:
    """A volume as drivers see it."""
    pool = s.get(StoragePool, v.pool_id) if v.pool_id else None
    pspec = pool_spec(pool) if pool else PoolSpec(uuid="", name="", kind="", url="")
    return VolumeSpec(
        uuid=v.uuid,
        name=v.name,
        size_bytes=v.size,
        pool=pspec,
        kind=v.type,
        path=v.path,
        format=v.format,
        device_id=v.deviceid or 0,
    )


def bridge_of(net: Network) -> str:
    """The host-side bridge a network's NICs plug into."""
    return f"vg{net.id:05d}" if net.id else "vg-new"


def nic_spec(net: Network, nic: Nic | Any) -> NicSpec:
    """A NIC as drivers see it."""
    return NicSpec(
        uuid=nic.uuid,
        mac=nic.macaddress,
        ip=nic.ipaddress,
        netmask=nic.netmask,
        gateway=nic.gateway,
        network_uuid=net.uuid,
        bridge=bridge_of(net),
        broadcast_uri=nic.broadcasturi,
        device_id=nic.deviceid,
        is_default=nic.isdefault,
    )


def instance_spec(
    s: Session,
    vm: VirtualMachine | Any,
    *,
    vols: Sequence[Volume | Any] | None = None,
    nics: Sequence[Nic | Any] | None = None,
) -> InstanceSpec:
    """Everything a driver needs to define a VM, from the database (or from the rows a caller just wrote)."""
    if vols is None:
        vols = list(
            s.exec(
                select(Volume)
                .where(col(Volume.vm_id) == vm.id, col(Volume.removed) == None)
                .order_by(col(Volume.deviceid))
            )
        )
    if nics is None:
        nics = list(
            s.exec(select(Nic).where(col(Nic.vm_id) == vm.id, col(Nic.removed) == None).order_by(col(Nic.deviceid)))
        )
    nets = {n.network_id: s.get(Network, n.network_id) for n in nics}
    tmpl = s.get(Template, vm.template_id)
    iso = s.get(Template, vm.iso_id) if vm.iso_id else None
    return InstanceSpec(
        uuid=vm.uuid,
        name=vm.instancename,
        display_name=vm.displayname or vm.name,
        cpus=vm.cpunumber,
        cpu_mhz=vm.cpuspeed,
        memory_mb=vm.memory,
        volumes=tuple(volume_spec(s, v) for v in vols),
        nics=tuple(nic_spec(nets[n.network_id], n) for n in nics if nets[n.network_id] is not None),  # type: ignore[arg-type]
        template=template_spec(s, tmpl) if tmpl and not tmpl.is_iso else None,
        iso=template_spec(s, iso) if iso else (template_spec(s, tmpl) if tmpl and tmpl.is_iso else None),
        hostname=vm.name,
        userdata=vm.userdata,
        ssh_key=vm.keypair,
        details={k: str(v) for k, v in (vm.details or {}).items()},
    )
