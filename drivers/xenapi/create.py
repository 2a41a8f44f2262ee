"""Creating a VM from a template: clone (prepared disks) or copy + provision, then size and wire it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from virga.drivers.base import DriverError, InstanceInfo, InstanceSpec, InvalidSpec, NicSpec, VolumeSpec
from virga.drivers.xenapi.states import NULL, VIRGA_KEY, VOLUME_KEY
from virga.drivers.xenapi.storage import StorageMixin, vbd_record
from virga.drivers.xenapi.undo import Undo


def retarget(provision: str, sr_uuid: str, sizes: dict[int, int]) -> str:
    """Rewrite a template's <provision> document: every disk on the SR, grown to the spec's sizes."""
    root = ET.fromstring(provision)
    for disk in root.iter("disk"):
        disk.set("sr", sr_uuid)
        want = sizes.get(int(disk.get("device", "0")), 0)
        if want > int(disk.get("size", "0")):
            disk.set("size", str(want))
    return ET.tostring(root, encoding="unicode")


def vlan_of(nic: NicSpec) -> int | None:
    """The VLAN id of a NIC's broadcast URI (vlan://100), None when untagged."""
    uri = nic.broadcast_uri
    if uri.startswith("vlan://") and uri[7:].isdigit():
        return int(uri[7:])
    return None


class CreateMixin(StorageMixin):
    """create_instance and the lookups it needs."""

    async def network(self, nic: NicSpec) -> str:
        """The NIC's network: by VLAN (broadcast_uri), else by name_label/bridge/uuid, else options["guest_network"]."""
        nets = await self.call("network.get_all_records")
        vlan = vlan_of(nic)
        if vlan is not None:
            for rec in (await self.call("PIF.get_all_records")).values():
                if int(rec["VLAN"]) == vlan and rec["network"] in nets:
                    return str(rec["network"])
            raise InvalidSpec(f"the XenServer pool has no network for VLAN {vlan}; create it first (pool.create_VLAN)")
        fallback = str(self.conn.options.get("guest_network", ""))
        for wanted in (nic.bridge, fallback):
            for ref, rec in nets.items():
                if wanted and wanted in (rec["name_label"], rec["bridge"], rec["uuid"]):
                    return str(ref)
        hint = (
            f" nor {fallback!r} (option guest_network)"
            if fallback
            else ("; set the zone's guest traffic label (xennetworklabel) or the cluster URL option guest_network")
        )
        raise InvalidSpec(f"the XenServer pool has no network named or bridged {nic.bridge!r}{hint}")

    async def create_instance(self, spec: InstanceSpec) -> InstanceInfo:
        """Define a halted VM from the spec's template; anything half-made is undone on failure."""
        if spec.template is None:
            raise InvalidSpec("the XenServer driver creates VMs from a template; the spec has none")
        if spec.cpus < 1 or spec.memory_mb < 1 or not spec.volumes:
            raise InvalidSpec("an instance needs at least one CPU, some memory and a root volume")
        tmpl = await self.template(spec.template)
        sr = await self.sr(spec.volumes[0].pool)
        networks = [await self.network(nic) for nic in spec.nics]
        prepared = all(v.path for v in spec.volumes)
        disks = [await self._existing(v) for v in spec.volumes] if prepared else []
        undo = Undo()
        try:
            vm = await self._instantiate(spec, tmpl, sr, disks, undo)
            await self._configure(vm, spec)
            for vol, vdi in zip(spec.volumes, disks, strict=False):
                await self.call("VBD.create", vbd_record(vm, vdi, vol.device_id))
            for nic, net in zip(spec.nics, networks, strict=True):
                await self.call(
                    "VIF.create",
                    {
                        "device": str(nic.device_id),
                        "network": net,
                        "VM": vm,
                        "MAC": nic.mac,
                        "MTU": "1500",
                        "other_config": {"virga_nic": nic.uuid},
                        "qos_algorithm_type": "",
                        "qos_algorithm_params": {},
                    },
                )
        except BaseException:
            await undo.run()
            raise
        self._refs[spec.uuid] = vm
        return await self.describe(await self.call("VM.get_record", vm))

    async def _existing(self, vol: VolumeSpec) -> str:
        """The VDI of a prepared volume, or InvalidSpec."""
        vdi = await self.vdi(vol)
        if vdi is None:
            raise InvalidSpec(f"volume {vol.name} ({vol.path}) does not exist in the XenServer pool")
        return vdi

    async def _instantiate(self, spec: InstanceSpec, tmpl: str, sr: str, disks: list[str], undo: Undo) -> str:
        """Clone (disks prepared apart: the clone's own disks are dropped) or copy + provision onto the SR."""
        prepared = bool(disks)
        method, args = ("VM.clone", (tmpl, spec.name)) if prepared else ("VM.copy", (tmpl, spec.name, sr))
        vm = await self.run_task(method, *args)
        undo.add("destroy the new VM and its own disks", lambda: self.destroy_vm_and_disks(vm, keep=set(disks)))
        if prepared:
            await self._drop_disks(vm)
            await self.call("VM.remove_from_other_config", vm, "disks")
        else:
            conf = dict(await self.call("VM.get_other_config", vm))
            if conf.get("disks"):
                sizes = {v.device_id: v.size_bytes for v in spec.volumes}
                conf["disks"] = retarget(conf["disks"], await self.call("SR.get_uuid", sr), sizes)
                await self.call("VM.set_other_config", vm, conf)
            await self.run_task("VM.provision", vm)
            await self._tag_disks(vm, spec)
        for vif in await self.call("VM.get_VIFs", vm):
            await self.call("VIF.destroy", vif)
        return vm

    async def _drop_disks(self, vm: str) -> None:
        """Destroy the disks a clone inherited from its template (the prepared volumes replace them)."""
        for vbd in await self.call("VM.get_VBDs", vm):
            rec = await self.call("VBD.get_record", vbd)
            await self.call("VBD.destroy", vbd)
            if rec["type"] == "Disk" and rec["VDI"] != NULL:
                await self.run_task("VDI.destroy", rec["VDI"])

    async def _tag_disks(self, vm: str, spec: InstanceSpec) -> None:
        """Label the disks VM.copy/VM.provision made with the spec's volume uuids (by position)."""
        by_device = {v.device_id: v for v in spec.volumes}
        for vbd in await self.call("VM.get_VBDs", vm):
            rec = await self.call("VBD.get_record", vbd)
            vol = by_device.get(int(rec["userdevice"]))
            if vol is not None and rec["VDI"] != NULL:
                await self.call("VDI.set_other_config", rec["VDI"], {VOLUME_KEY: vol.uuid})
                await self.call("VDI.set_name_label", rec["VDI"], vol.name)

    async def _configure(self, vm: str, spec: InstanceSpec) -> None:
        """Make the clone a guest: not a template, named, sized, pinned to this host."""
        await self.call("VM.set_is_a_template", vm, False)
        await self.call("VM.set_name_description", vm, spec.display_name)
        conf = dict(await self.call("VM.get_other_config", vm))
        conf.update({VIRGA_KEY: spec.uuid, "virga_hostname": spec.hostname or spec.name})
        await self.call("VM.set_other_config", vm, conf)
        await self.size(vm, spec.cpus, spec.memory_mb)
        await self.call("VM.set_affinity", vm, await self.host())

    async def size(self, vm: str, cpus: int, memory_mb: int) -> None:
        """Set VCPUs (max and at startup, in a valid order) and all four memory limits."""
        current = int(await self.call("VM.get_VCPUs_at_startup", vm))
        if cpus >= current:
            await self.call("VM.set_VCPUs_max", vm, str(cpus))
            await self.call("VM.set_VCPUs_at_startup", vm, str(cpus))
        else:
            await self.call("VM.set_VCPUs_at_startup", vm, str(cpus))
            await self.call("VM.set_VCPUs_max", vm, str(cpus))
        mem = str(memory_mb << 20)
        await self.call("VM.set_memory_limits", vm, mem, mem, mem, mem)

    async def destroy_vm_and_disks(self, vm: str, keep: set[str]) -> None:
        """Halt and destroy a VM with its disks except those in keep (used to undo a creation)."""
        if await self.call("VM.get_power_state", vm) != "Halted":
            await self.run_task("VM.hard_shutdown", vm)
        vdis = []
        for vbd in await self.call("VM.get_VBDs", vm):
            rec = await self.call("VBD.get_record", vbd)
            if rec["type"] == "Disk" and rec["VDI"] != NULL and rec["VDI"] not in keep:
                vdis.append(rec["VDI"])
        await self.run_task("VM.destroy", vm)
        for vdi in vdis:
            try:
                await self.run_task("VDI.destroy", vdi)
            except DriverError:
                pass
