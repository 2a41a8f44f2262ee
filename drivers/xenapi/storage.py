"""VDIs and VBDs: prepare, delete, resize, attach and detach disks; SR statistics."""

from __future__ import annotations

from typing import Any

from virga.drivers.base import (
    DriverError,
    InstanceNotFound,
    InvalidSpec,
    PoolSpec,
    PoolStats,
    TemplateSpec,
    VolumeInfo,
    VolumeSpec,
)
from virga.drivers.xenapi.core import XenCore
from virga.drivers.xenapi.states import NULL, VOLUME_KEY


def vbd_record(vm: str, vdi: str, device: int) -> dict[str, Any]:
    """A VBD.create record for a read-write disk at a userdevice position."""
    return {
        "VM": vm,
        "VDI": vdi,
        "userdevice": str(device),
        "bootable": device == 0,
        "mode": "RW",
        "type": "Disk",
        "empty": False,
        "unpluggable": True,
        "other_config": {},
        "qos_algorithm_type": "",
        "qos_algorithm_params": {},
    }


class StorageMixin(XenCore):
    """Disk operations of the XenAPI driver."""

    async def template_disk(self, tmpl_ref: str) -> str | None:
        """The template's boot disk VDI (userdevice 0, else the first disk), if it has one."""
        disks: list[tuple[int, str]] = []
        for vbd in await self.call("VM.get_VBDs", tmpl_ref):
            rec = await self.call("VBD.get_record", vbd)
            if rec["type"] == "Disk" and rec["VDI"] != NULL:
                disks.append((int(rec["userdevice"]), rec["VDI"]))
        return min(disks)[1] if disks else None

    async def prepare_volume(self, vol: VolumeSpec, template: TemplateSpec | None) -> VolumeInfo:
        """Copy the template's disk onto the SR (or create a blank VDI) and size it."""
        sr = await self.sr(vol.pool)
        source = await self.template_disk(await self.template(template)) if template else None
        if source is None and vol.size_bytes <= 0:
            raise InvalidSpec(f"volume {vol.name} needs a size (its template has no disk to copy)")
        if source is not None:
            vdi = await self.run_task("VDI.copy", source, sr)
        else:
            vdi = await self.call(
                "VDI.create",
                {
                    "name_label": vol.name,
                    "name_description": "",
                    "SR": sr,
                    "virtual_size": str(vol.size_bytes),
                    "type": "user",
                    "sharable": False,
                    "read_only": False,
                    "other_config": {VOLUME_KEY: vol.uuid},
                },
            )
        try:
            await self.call("VDI.set_name_label", vdi, vol.name)
            await self.call("VDI.set_other_config", vdi, {VOLUME_KEY: vol.uuid})
            if vol.size_bytes > int(await self.call("VDI.get_virtual_size", vdi)):
                await self.run_task("VDI.resize", vdi, str(vol.size_bytes))
            return await self._volume_info(vdi)
        except DriverError:
            await self.call("VDI.destroy", vdi)
            raise

    async def _volume_info(self, vdi: str) -> VolumeInfo:
        """VolumeInfo of a VDI (its path is the VDI uuid)."""
        rec = await self.call("VDI.get_record", vdi)
        return VolumeInfo(
            path=str(rec["uuid"]), size_bytes=int(rec["virtual_size"]), physical_bytes=int(rec["physical_utilisation"])
        )

    async def vdi(self, vol: VolumeSpec) -> str | None:
        """The VDI of a volume: by path (VDI uuid), else by the virga volume uuid in other_config."""
        if vol.path:
            try:
                return str(await self.call("VDI.get_by_uuid", vol.path))
            except InstanceNotFound:
                pass
        for ref, rec in (await self.call("VDI.get_all_records")).items():
            if rec["other_config"].get(VOLUME_KEY) == vol.uuid and not rec["is_a_snapshot"]:
                return str(ref)
        return None

    async def delete_volume(self, vol: VolumeSpec) -> None:
        """Destroy a volume's VDI; an absent one is fine."""
        vdi = await self.vdi(vol)
        if vdi is not None:
            try:
                await self.run_task("VDI.destroy", vdi)
            except InstanceNotFound:
                pass

    async def resize_volume(self, vol: VolumeSpec, size_bytes: int) -> VolumeInfo:
        """Grow a VDI."""
        vdi = await self.vdi(vol)
        if vdi is None:
            raise InvalidSpec(f"volume {vol.name} ({vol.path or vol.uuid}) does not exist")
        if size_bytes < int(await self.call("VDI.get_virtual_size", vdi)):
            raise InvalidSpec("XenServer volumes can only grow")
        await self.run_task("VDI.resize", vdi, str(size_bytes))
        return await self._volume_info(vdi)

    async def pool_stats(self, pool: PoolSpec) -> PoolStats:
        """An SR's size and utilisation."""
        rec = await self.call("SR.get_record", await self.sr(pool))
        return PoolStats(capacity_bytes=int(rec["physical_size"]), used_bytes=int(rec["physical_utilisation"]))

    async def release_pool(self, pool: PoolSpec) -> None:
        """Nothing to undo: the SR belongs to the XenServer pool (virga neither created nor plugged it)."""

    async def attach_volume(self, uuid: str, vol: VolumeSpec) -> None:
        """Create a VBD for the volume and plug it when the VM runs."""
        ref, rec = await self.vm(uuid)
        vdi = await self.vdi(vol)
        if vdi is None:
            raise InvalidSpec(f"volume {vol.name} ({vol.path or vol.uuid}) does not exist")
        vbd = await self.call("VBD.create", vbd_record(ref, vdi, vol.device_id))
        if rec["power_state"] == "Running":
            try:
                await self.run_task("VBD.plug", vbd)
            except DriverError:
                await self.call("VBD.destroy", vbd)
                raise

    async def detach_volume(self, uuid: str, vol: VolumeSpec) -> None:
        """Unplug (when attached) and destroy the VBD linking the volume to the VM."""
        ref, _ = await self.vm(uuid)
        vdi = await self.vdi(vol)
        for vbd in await self.call("VM.get_VBDs", ref):
            rec = await self.call("VBD.get_record", vbd)
            if rec["VDI"] == vdi:
                if rec["currently_attached"]:
                    await self.run_task("VBD.unplug", vbd)
                await self.call("VBD.destroy", vbd)
                return
        raise InvalidSpec(f"volume {vol.name} is not attached to instance {uuid}")
