"""XenAPIDriver: XenServer / XCP-ng pools through XAPI (XML-RPC), one driver per pool host."""

from __future__ import annotations

import asyncio
from typing import Any

from virga.drivers.base import (
    DiscoveredHost,
    DriverError,
    HostConnection,
    HostFacts,
    HostUnreachable,
    InstanceInfo,
    Inventory,
    TemplateSpec,
)
from virga.drivers.xenapi.create import CreateMixin
from virga.drivers.xenapi.extras import ExtrasMixin
from virga.drivers.xenapi.states import NULL, is_guest, to_facts, to_pool, to_template


class XenAPIDriver(ExtrasMixin, CreateMixin):
    """A host of a XenServer/XCP-ng pool, reached through the pool master (options["host"] picks the host)."""

    async def connect(self) -> HostFacts:
        """Log in to the pool master (following HOST_IS_SLAVE) and describe this driver's host."""
        await asyncio.to_thread(self.xapi.login)
        return await self._facts(await self.host())

    async def _facts(self, host: str) -> HostFacts:
        """HostFacts of one pool host."""
        rec = await self.call("host.get_record", host)
        metrics = await self.call("host_metrics.get_record", rec["metrics"])
        pool = next(iter((await self.call("pool.get_all_records")).values()))
        return to_facts(rec, metrics, str(pool["name_label"]))

    async def close(self) -> None:
        """Log out."""
        await asyncio.to_thread(self.xapi.logout)

    async def ping(self) -> None:
        """Raise HostUnreachable unless the pool master answers a call."""
        try:
            await self.call("pool.get_all")
        except HostUnreachable:
            raise
        except DriverError as err:
            raise HostUnreachable(f"XenServer at {self.xapi.url} did not answer properly: {err}") from err

    async def discover(self) -> Inventory:
        """The pool's hosts, SRs (shared ones; local ones too in a one-host pool), networks and templates."""
        await self.connect()
        pool = next(iter((await self.call("pool.get_all_records")).values()))
        host_recs = await self.call("host.get_all_records")
        hosts = []
        for ref, rec in host_recs.items():
            conn = HostConnection(
                url=self.xapi.url,
                username=self.conn.username,
                password=self.conn.password,
                options={**self.conn.options, "host": rec["uuid"]},
            )
            hosts.append(DiscoveredHost(facts=await self._facts(ref), conn=conn, cluster=str(pool["name_label"])))
        srs = [
            to_pool(r)
            for r in (await self.call("SR.get_all_records")).values()
            if r["content_type"] != "iso" and r["type"] not in ("udev", "iso") and (r["shared"] or len(host_recs) == 1)
        ]
        networks = [str(r["name_label"]) for r in (await self.call("network.get_all_records")).values()]
        return Inventory(
            hosts=tuple(hosts),
            pools=tuple(srs),
            networks=tuple(networks),
            templates=tuple(await self._templates()),
            datacenter=str(pool["name_label"]),
        )

    async def _templates(self) -> list[TemplateSpec]:
        """Every template VM of the pool (not snapshots), sized by its disks."""
        vdis = await self.call("VDI.get_all_records")
        vbds = await self.call("VBD.get_all_records")
        templates = []
        for rec in (await self.call("VM.get_all_records")).values():
            if rec["is_a_template"] and not rec["is_a_snapshot"]:
                size = sum(
                    int(vdis[vbds[b]["VDI"]]["virtual_size"])
                    for b in rec["VBDs"]
                    if b in vbds and vbds[b]["VDI"] in vdis
                )
                templates.append(to_template(rec, size))
        return templates

    def _on_host(self, rec: dict[str, Any], host: str, master: str, hosts: set[str]) -> bool:
        """Whether a VM belongs to this driver's host: running there, or halted with affinity there."""
        if rec["resident_on"] != NULL:
            return bool(rec["resident_on"] == host)
        home = rec["affinity"] if rec["affinity"] in hosts else master
        return bool(home == host)

    async def list_instances(self) -> list[InstanceInfo]:
        """Every guest of the pool that runs on (or is pinned to) this host."""
        host = await self.host()
        hosts = await self.call("host.get_all_records")
        master = next(iter((await self.call("pool.get_all_records")).values()))["master"]
        return [
            await self.describe(rec)
            for rec in (await self.call("VM.get_all_records")).values()
            if is_guest(rec) and self._on_host(rec, host, master, set(hosts))
        ]

    async def get_instance(self, uuid: str) -> InstanceInfo:
        """One guest of the pool."""
        return await self.info(uuid)

    async def start_instance(self, uuid: str) -> InstanceInfo:
        """Boot a halted guest on its affinity host (resume it when paused)."""
        ref, rec = await self.vm(uuid)
        if rec["power_state"] == "Paused":
            await self.run_task("VM.unpause", ref)
        elif rec["power_state"] != "Running":
            hosts = await self.call("host.get_all")
            host = rec["affinity"] if rec["affinity"] in hosts else await self.host()
            await self.run_task("VM.start_on", ref, host, False, False)
        return await self.info(uuid)

    async def stop_instance(self, uuid: str, force: bool = False) -> InstanceInfo:
        """clean_shutdown within shutdown_timeout, then hard_shutdown (at once when forced)."""
        ref, rec = await self.vm(uuid)
        if rec["power_state"] == "Halted":
            return await self.info(uuid)
        if not force and rec["power_state"] == "Running":
            try:
                await self.run_task("VM.clean_shutdown", ref, timeout=self.shutdown_timeout)
                return await self.info(uuid)
            except DriverError as err:
                if "VM_BAD_POWER_STATE" in str(err) and (await self.vm(uuid))[1]["power_state"] == "Halted":
                    return await self.info(uuid)
        await self.run_task("VM.hard_shutdown", ref)
        return await self.info(uuid)

    async def reboot_instance(self, uuid: str) -> InstanceInfo:
        """clean_reboot within shutdown_timeout, else hard_reboot."""
        ref, _ = await self.vm(uuid)
        try:
            await self.run_task("VM.clean_reboot", ref, timeout=self.shutdown_timeout)
        except DriverError as err:
            if "VM_BAD_POWER_STATE" in str(err):
                raise
            await self.run_task("VM.hard_reboot", ref)
        return await self.info(uuid)

    async def destroy_instance(self, uuid: str) -> None:
        """Power off, drop the VM's snapshots (with their disks) and destroy the VM; its volumes stay."""
        ref, rec = await self.vm(uuid)
        if rec["power_state"] != "Halted":
            await self.run_task("VM.hard_shutdown", ref)
        for snap in rec["snapshots"]:
            await self.drop_snapshot(snap)
        await self.run_task("VM.destroy", ref)
        self._refs.pop(uuid, None)

    async def suspend_instance(self, uuid: str) -> InstanceInfo:
        """Pause a running guest (VM.pause)."""
        ref, _ = await self.vm(uuid)
        await self.run_task("VM.pause", ref)
        return await self.info(uuid)

    async def resume_instance(self, uuid: str) -> InstanceInfo:
        """Unpause a paused guest."""
        ref, _ = await self.vm(uuid)
        await self.run_task("VM.unpause", ref)
        return await self.info(uuid)

    async def scale_instance(self, uuid: str, cpus: int, memory_mb: int) -> InstanceInfo:
        """Resize a halted guest (running guests: NotSupported)."""
        ref, rec = await self.vm(uuid)
        if rec["power_state"] != "Halted":
            raise self.unsupported("scaling a running VM")
        await self.size(ref, cpus, memory_mb)
        return await self.info(uuid)
