"""VM snapshots, pool migration, statistics (VM_metrics and RRDs), consoles and event.from state sync."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from virga.drivers.base import (
    ConsoleInfo,
    Driver,
    DriverError,
    InstanceEvent,
    InstanceInfo,
    InstanceNotFound,
    InstanceStats,
    InvalidSpec,
    NotSupported,
    PowerState,
    SnapshotInfo,
)
from virga.drivers.xenapi.core import XenCore
from virga.drivers.xenapi.rrd import rrd_totals
from virga.drivers.xenapi.session import XapiSession
from virga.drivers.xenapi.states import NULL, STATE_MAP, guest_uuid, is_guest


class ExtrasMixin(XenCore):
    """Snapshots, migration, statistics, consoles and events."""

    # --- snapshots -------------------------------------------------------------
    async def snapshot_instance(self, uuid: str, name: str, memory: bool) -> SnapshotInfo:
        """VM.snapshot (disks and configuration); memory snapshots are not offered."""
        if memory:
            raise self.unsupported("memory snapshots (VM.checkpoint)")
        ref, _ = await self.vm(uuid)
        snap = await self.run_task("VM.snapshot", ref, name)
        return SnapshotInfo(name=name, path=str(await self.call("VM.get_uuid", snap)))

    async def _snapshot_of(self, uuid: str, snap: SnapshotInfo) -> str:
        """The snapshot VM ref (by path = its XAPI uuid, else by name among the guest's snapshots)."""
        ref, rec = await self.vm(uuid)
        if not snap.path:
            for snap_ref in rec["snapshots"]:
                if await self.call("VM.get_name_label", snap_ref) == snap.name:
                    return str(snap_ref)
            raise InstanceNotFound(f"instance {uuid} has no snapshot named {snap.name!r} in the XenServer pool")
        snap_ref = await self.call("VM.get_by_uuid", snap.path)
        if await self.call("VM.get_snapshot_of", snap_ref) != ref:
            raise InvalidSpec(f"snapshot {snap.name} ({snap.path}) is not a snapshot of instance {uuid}")
        return str(snap_ref)

    async def revert_instance_snapshot(self, uuid: str, snap: SnapshotInfo) -> InstanceInfo:
        """VM.revert to the snapshot."""
        await self.run_task("VM.revert", await self._snapshot_of(uuid, snap))
        return await self.info(uuid)

    async def delete_instance_snapshot(self, uuid: str, snap: SnapshotInfo) -> None:
        """Destroy the snapshot VM and its disks."""
        await self.drop_snapshot(await self._snapshot_of(uuid, snap))

    async def drop_snapshot(self, snap: str) -> None:
        """Destroy a snapshot VM and the snapshot VDIs it holds."""
        vdis = []
        for vbd in await self.call("VM.get_VBDs", snap):
            rec = await self.call("VBD.get_record", vbd)
            if rec["type"] == "Disk" and rec["VDI"] != NULL:
                vdis.append(rec["VDI"])
        await self.run_task("VM.destroy", snap)
        for vdi in vdis:
            await self.run_task("VDI.destroy", vdi)

    # --- migration -------------------------------------------------------------
    async def migrate_instance(self, uuid: str, target: Driver, live: bool) -> InstanceInfo:
        """Within one pool: VM.pool_migrate when running, re-pinning (affinity) when halted."""
        if not isinstance(target, ExtrasMixin):
            raise self.unsupported("migration to a non-XenServer host")
        pools = {p["uuid"] for d in (self, target) for p in (await d.call("pool.get_all_records")).values()}
        if len(pools) != 1:
            raise self.unsupported("migration between pools (storage motion)")
        ref, rec = await self.vm(uuid)
        host = await target.host()
        if rec["power_state"] == "Halted":
            await self.call("VM.set_affinity", ref, host)
        elif live and rec["power_state"] == "Running":
            await self.run_task("VM.pool_migrate", ref, host, {"live": "true"})
            await self.call("VM.set_affinity", ref, host)
        else:
            raise DriverError(f"instance {uuid} is {rec['power_state']}: stop it for a cold migration or ask for live")
        target._refs[uuid] = ref
        return await target.info(uuid)

    # --- stats and console -----------------------------------------------------
    async def instance_stats(self, uuid: str) -> InstanceStats:
        """CPU and memory from VM_metrics; disk and network totals from the VM's RRD (GET /vm_rrd)."""
        _, rec = await self.vm(uuid)
        if rec["power_state"] != "Running":
            raise DriverError(f"instance {uuid} is {rec['power_state']}: statistics need a running VM")
        metrics = await self.call("VM_metrics.get_record", rec["metrics"])
        usage = [float(v) for v in metrics.get("VCPUs_utilisation", {}).values()]
        memory_kb = int(metrics["memory_actual"]) // 1024
        raw = await asyncio.to_thread(self.xapi.fetch, "/vm_rrd", uuid=str(rec["uuid"]))
        totals = rrd_totals(raw)
        return InstanceStats(
            cpu_percent=100.0 * sum(usage) / len(usage) if usage else 0.0,
            memory_kb=memory_kb,
            memory_used_kb=memory_kb,
            **totals,
        )

    async def console(self, uuid: str) -> ConsoleInfo:
        """The VM's RFB (VNC) console location."""
        _, rec = await self.vm(uuid)
        for ref in rec["consoles"]:
            console = await self.call("console.get_record", ref)
            if console["protocol"] == "rfb":
                return ConsoleInfo(kind="vnc", location=str(console["location"]))
        raise DriverError(f"instance {uuid} has no VNC console (it is {rec['power_state']})")

    # --- events ----------------------------------------------------------------
    async def events(self) -> AsyncIterator[InstanceEvent]:
        """Power-state changes of the pool's guests, from event.from long-polls on a session of its own."""
        wait = float(self.conn.options.get("event_timeout", "5"))
        session = XapiSession(self.conn, timeout=wait + 30)
        session.url = self.xapi.url
        try:
            await asyncio.to_thread(session.login)
            token, known = await self._event_baseline(session)
            while True:
                try:
                    batch = await asyncio.to_thread(session.call, "event.from", ["vm"], token, wait)
                except DriverError as err:
                    if "EVENTS_LOST" not in str(err):
                        raise
                    token, known = await self._event_baseline(session)
                    continue
                token = batch["token"]
                for event in batch["events"]:
                    found = self._event(event, known)
                    if found is not None:
                        yield found
        finally:
            await asyncio.to_thread(session.logout)

    async def _event_baseline(self, session: XapiSession) -> tuple[str, dict[str, tuple[str, str]]]:
        """The current token and the power state of every guest (ref -> (uuid, power_state))."""
        batch = await asyncio.to_thread(session.call, "event.from", ["vm"], "", 0.0)
        known = {
            e["ref"]: (guest_uuid(e["snapshot"]), e["snapshot"]["power_state"])
            for e in batch["events"]
            if e.get("snapshot") and is_guest(e["snapshot"])
        }
        return batch["token"], known

    def _event(self, event: dict[str, Any], known: dict[str, tuple[str, str]]) -> InstanceEvent | None:
        """Turn one VM event into an InstanceEvent when a guest appeared, changed power state or went away."""
        ref, snap = event["ref"], event.get("snapshot")
        if event["operation"] == "del" or not snap or not is_guest(snap):
            gone = known.pop(ref, None)
            if gone is not None and event["operation"] == "del":
                return InstanceEvent(uuid=gone[0], state=PowerState.UNKNOWN, reason="destroyed")
            return None
        uuid, state = guest_uuid(snap), str(snap["power_state"])
        old = known.get(ref)
        known[ref] = (uuid, state)
        if old is not None and old[1] == state:
            return None
        reason = "created" if old is None else f"power_state {old[1]} -> {state}"
        return InstanceEvent(uuid=uuid, state=STATE_MAP.get(state, PowerState.UNKNOWN), reason=reason)


__all__ = ["ExtrasMixin", "NotSupported"]
