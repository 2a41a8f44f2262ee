"""The XenAPI driver's shared plumbing: blocking calls in threads, task polling, lookups."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from virga.drivers.base import (
    Capability,
    Driver,
    DriverError,
    HostConnection,
    InstanceInfo,
    InstanceNotFound,
    InvalidSpec,
    NotSupported,
    PoolSpec,
    TemplateSpec,
)
from virga.drivers.xenapi.errors import from_failure
from virga.drivers.xenapi.session import XapiSession
from virga.drivers.xenapi.states import NULL, STATE_MAP, VIRGA_KEY, is_guest, task_result, to_instance

ProgressCallback = Callable[[str, float], None]


class XenCore(Driver):
    """Connection, task polling and object lookups shared by the XenAPI driver's parts."""

    hypervisor = "XenServer"
    disk_formats = ("VHD", "ISO")
    traffic_label = "xennetworklabel"
    STATE_MAP = STATE_MAP
    capabilities = frozenset(
        {
            Capability.LIVE_MIGRATION,
            Capability.COLD_MIGRATION,
            Capability.VM_SNAPSHOT,
            Capability.HOT_PLUG_VOLUME,
            Capability.SUSPEND,
            Capability.RESIZE_VOLUME,
            Capability.VNC_CONSOLE,
            Capability.EVENTS,
            Capability.STATS,
        }
    )

    def __init__(self, conn: HostConnection, on_progress: ProgressCallback | None = None) -> None:
        """Prepare the session; on_progress(operation, fraction) hears about Async task progress."""
        super().__init__(conn)
        self.xapi = XapiSession(conn)
        self.on_progress = on_progress
        self.shutdown_timeout = float(conn.options.get("shutdown_timeout", "60"))
        self.task_timeout = float(conn.options.get("task_timeout", "3600"))
        self.host_ref: str | None = None
        self._refs: dict[str, str] = {}

    def unsupported(self, what: str) -> NotSupported:
        """The NotSupported error for an operation this hypervisor cannot do."""
        return NotSupported(f"{what} is not supported by the {self.hypervisor} hypervisor")

    async def call(self, method: str, *args: Any) -> Any:
        """Run one blocking XenAPI call in a thread."""
        return await asyncio.to_thread(self.xapi.call, method, *args)

    async def run_task(self, method: str, *args: Any, timeout: float | None = None) -> str:
        """Run Async.<method>, poll its task (reporting progress) and return its result."""
        task = await self.call(f"Async.{method}", *args)
        try:
            rec = await self._wait(method, task, timeout or self.task_timeout)
        finally:
            try:
                await self.call("task.destroy", task)
            except DriverError:
                pass
        if rec["status"] == "success":
            return task_result(str(rec["result"]))
        raise from_failure(rec["error_info"] or ["TASK_FAILED", method, str(rec["status"])])

    async def _wait(self, method: str, task: str, timeout: float) -> dict[str, Any]:
        """Poll a task until it ends; on timeout cancel it and raise TaskTimeout."""
        loop = asyncio.get_running_loop()
        deadline, delay, last = loop.time() + timeout, 0.02, -1.0
        while True:
            rec = await self.call("task.get_record", task)
            if rec["progress"] != last and self.on_progress is not None:
                last = float(rec["progress"])
                self.on_progress(method, last)
            if rec["status"] not in ("pending", "cancelling"):
                return dict(rec)
            if loop.time() > deadline:
                try:
                    await self.call("task.cancel", task)
                except DriverError:
                    pass
                raise TaskTimeout(f"XenAPI {method} did not finish within {timeout:g}s; its task was cancelled")
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.5)

    # --- lookups ---------------------------------------------------------------
    async def host(self) -> str:
        """The host this driver stands for: options["host"] (uuid or name) else the pool master."""
        if self.host_ref is None:
            wanted = self.conn.options.get("host", "")
            hosts = await self.call("host.get_all_records")
            matches = [r for r, h in hosts.items() if wanted in (h["uuid"], h["name_label"], h["address"])]
            if wanted and not matches:
                raise InvalidSpec(f"the pool has no host named {wanted!r}")
            if matches:
                self.host_ref = matches[0]
            else:
                pool = next(iter((await self.call("pool.get_all_records")).values()))
                self.host_ref = str(pool["master"])
        return self.host_ref

    async def vm(self, uuid: str) -> tuple[str, dict[str, Any]]:
        """The ref and record of a guest by virga uuid (other_config) or XenServer uuid."""
        ref = self._refs.get(uuid)
        if ref:
            try:
                return ref, await self.call("VM.get_record", ref)
            except InstanceNotFound:
                self._refs.pop(uuid, None)
        try:
            ref = await self.call("VM.get_by_uuid", uuid)
            rec = await self.call("VM.get_record", ref)
        except InstanceNotFound:
            ref, rec = await self._scan(uuid)
        if not is_guest(rec):
            raise InstanceNotFound(f"{uuid} is a template, snapshot or control domain, not a guest")
        self._refs[uuid] = ref
        return ref, rec

    async def _scan(self, uuid: str) -> tuple[str, dict[str, Any]]:
        """Find a VM by the virga uuid kept in its other_config."""
        for ref, rec in (await self.call("VM.get_all_records")).items():
            if rec["other_config"].get(VIRGA_KEY) == uuid and is_guest(rec):
                return ref, rec
        raise InstanceNotFound(f"instance {uuid} does not exist in the XenServer pool behind {self.xapi.url}")

    async def info(self, uuid: str) -> InstanceInfo:
        """The current InstanceInfo of a guest."""
        _, rec = await self.vm(uuid)
        return await self.describe(rec)

    async def describe(self, rec: dict[str, Any]) -> InstanceInfo:
        """InstanceInfo of a record, naming the host it runs on."""
        name = ""
        if rec["resident_on"] != NULL:
            try:
                name = await self.call("host.get_name_label", rec["resident_on"])
            except DriverError:
                name = ""
        return to_instance(rec, name)

    async def sr(self, pool: PoolSpec) -> str:
        """The SR behind a PoolSpec (by uuid, path or name)."""
        for key in (pool.uuid, pool.path):
            if key:
                try:
                    return str(await self.call("SR.get_by_uuid", key))
                except InstanceNotFound:
                    pass
        refs = await self.call("SR.get_by_name_label", pool.name)
        if not refs:
            raise InvalidSpec(f"the XenServer pool has no storage repository {pool.name!r} ({pool.uuid})")
        return str(refs[0])

    async def template(self, tmpl: TemplateSpec) -> str:
        """The template VM behind a TemplateSpec (details, uuid, then name)."""
        for key in (tmpl.details.get("xenserver_template", ""), tmpl.uuid):
            if key:
                try:
                    ref = await self.call("VM.get_by_uuid", key)
                    if await self.call("VM.get_is_a_template", ref):
                        return str(ref)
                except InstanceNotFound:
                    pass
        for ref in await self.call("VM.get_by_name_label", tmpl.name):
            if await self.call("VM.get_is_a_template", ref):
                return str(ref)
        raise InvalidSpec(f"the XenServer pool has no template {tmpl.name!r} ({tmpl.uuid})")


class TaskTimeout(DriverError):
    """An Async task did not finish in time (it was cancelled)."""
