"""A seeded random sequence of VM and volume operations, and the capacity invariant checked after each one.

The invariant: every host's recorded CPU and memory allocation is the sum over the VMs holding it
(a VM holds the host it runs on: `host_id` set), and every pool's allocated bytes are the sum of the
sizes of the live volumes placed on it. Used on SQLite (tests/api) and PostgreSQL (tests/pg).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from sqlmodel import select
from virga.client import ApiError, VirgaClient
from virga.core import VirgaApp
from virga.models import Host, StoragePool, VirtualMachine, Volume

from tests.factories import Cloud, make_network

HOLDING = {"Starting", "Running", "Stopping", "Migrating"}
MB = 2**20


def capacity_mismatches(app: VirgaApp) -> list[str]:
    """Every difference between the recorded allocations and the sums of what holds them."""
    wrong: list[str] = []
    with app.db.session() as s:
        vms = s.exec(select(VirtualMachine).where(VirtualMachine.removed == None)).all()
        for vm in vms:
            if vm.host_id is not None and vm.state not in HOLDING:
                wrong.append(f"VM {vm.name} is {vm.state} but holds host {vm.host_id}")
        for host in s.exec(select(Host).where(Host.removed == None)):
            on = [vm for vm in vms if vm.host_id == host.id]
            cpu = sum(vm.cpunumber * vm.cpuspeed for vm in on)
            mem = sum(vm.memory * MB for vm in on)
            if (host.cpuallocated, host.memoryallocated) != (cpu, mem):
                wrong.append(
                    f"host {host.name}: recorded cpu={host.cpuallocated} mem={host.memoryallocated}, "
                    f"its {len(on)} VMs hold cpu={cpu} mem={mem}"
                )
        vols = s.exec(select(Volume).where(Volume.removed == None, Volume.pool_id != None)).all()
        for pool in s.exec(select(StoragePool).where(StoragePool.removed == None)):
            held = sum(v.size for v in vols if v.pool_id == pool.id)
            if pool.allocatedbytes != held:
                wrong.append(f"pool {pool.name}: recorded {pool.allocatedbytes} bytes, its volumes hold {held}")
    return wrong


class Scenario:
    """The operations, each picking its target at random among the resources in a state that allows it."""

    def __init__(self, app: VirgaApp, admin: VirgaClient, cloud: Cloud, seed: int) -> None:
        """Remember the cloud; offerings and the network are looked up by setup()."""
        self.app, self.admin, self.cloud = app, admin, cloud
        self.rng = random.Random(seed)
        self.done: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.offerings: list[str] = []
        self.disks: list[str] = []
        self.net = ""
        self.serial = 0

    async def setup(self) -> None:
        """A network, the default offerings plus a large one (one per host: placement can fail)."""
        self.net = make_network(self.app, self.cloud.zone, "admin")
        small = await self.admin.list("listServiceOfferings", "serviceoffering", name="Small Instance")
        medium = await self.admin.list("listServiceOfferings", "serviceoffering", name="Medium Instance")
        large = await self.admin.call(
            "createServiceOffering",
            name="Large",
            displaytext="6 x 2 GHz, 8 GB",
            cpunumber=6,
            cpuspeed=2000,
            memory=8192,
        )
        self.offerings = [small[0]["id"], medium[0]["id"], large["serviceoffering"]["id"]]
        for name in ("Small", "Medium"):
            self.disks += [d["id"] for d in await self.admin.list("listDiskOfferings", "diskoffering", name=name)]

    async def _vms(self, *states: str) -> list[dict[str, Any]]:
        """VMs in one of the states."""
        vms = await self.admin.list("listVirtualMachines", "virtualmachine", listall=True)
        return [v for v in vms if v["state"] in states]

    async def _volumes(self, attached: bool | None = None) -> list[dict[str, Any]]:
        """Data volumes (attached, detached or both)."""
        vols = await self.admin.list("listVolumes", "volume", listall=True, type="DATADISK")
        if attached is None:
            return vols
        return [v for v in vols if bool(v.get("virtualmachineid")) == attached]

    def _name(self, prefix: str) -> str:
        """A fresh name."""
        self.serial += 1
        return f"{prefix}-{self.serial}"

    async def deploy(self) -> bool:
        """Deploy a VM (sometimes stopped, sometimes with a data disk, sometimes on a chosen host)."""
        params: dict[str, Any] = {
            "zoneid": self.cloud.zone,
            "templateid": self.cloud.template,
            "serviceofferingid": self.rng.choice(self.offerings),
            "networkids": self.net,
            "name": self._name("vm"),
            "startvm": self.rng.random() < 0.8,
        }
        if self.rng.random() < 0.3:
            params["diskofferingid"] = self.rng.choice(self.disks)
        if self.rng.random() < 0.3:
            params["hostid"] = self.rng.choice(self.cloud.hosts)
        await self.admin.run("deployVirtualMachine", **params)
        return True

    async def burst(self) -> bool:
        """Deploy three VMs and stop or start every VM, all at once (concurrent jobs update the same rows)."""
        jobs = [self.deploy() for _ in range(3)]
        jobs += [self.admin.run("stopVirtualMachine", id=v["id"]) for v in await self._vms("Running")]
        jobs += [self.admin.run("startVirtualMachine", id=v["id"]) for v in await self._vms("Stopped")]
        for res in await asyncio.gather(*jobs, return_exceptions=True):
            if isinstance(res, BaseException) and not isinstance(res, ApiError):
                raise res
        return True

    async def _one(self, items: list[dict[str, Any]]) -> dict[str, Any] | None:
        """One item at random, or None."""
        return self.rng.choice(items) if items else None

    async def start(self) -> bool:
        """Start a stopped VM."""
        vm = await self._one(await self._vms("Stopped"))
        if vm is None:
            return False
        await self.admin.run("startVirtualMachine", id=vm["id"])
        return True

    async def stop(self) -> bool:
        """Stop a running VM."""
        vm = await self._one(await self._vms("Running"))
        if vm is None:
            return False
        await self.admin.run("stopVirtualMachine", id=vm["id"], forced=self.rng.random() < 0.5)
        return True

    async def migrate(self) -> bool:
        """Live-migrate a running VM to the other host."""
        vm = await self._one(await self._vms("Running"))
        if vm is None:
            return False
        dst = next(h for h in self.cloud.hosts if h != vm["hostid"])
        await self.admin.run("migrateVirtualMachine", virtualmachineid=vm["id"], hostid=dst)
        return True

    async def destroy(self) -> bool:
        """Destroy a VM (sometimes expunging it at once)."""
        vm = await self._one(await self._vms("Running", "Stopped"))
        if vm is None:
            return False
        await self.admin.run("destroyVirtualMachine", id=vm["id"], expunge=self.rng.random() < 0.4)
        return True

    async def expunge(self) -> bool:
        """Expunge a destroyed VM."""
        vm = await self._one(await self._vms("Destroyed"))
        if vm is None:
            return False
        await self.admin.run("expungeVirtualMachine", id=vm["id"])
        return True

    async def create_volume(self) -> bool:
        """Create a data volume (allocated only: its disk is made on the first attach)."""
        await self.admin.run(
            "createVolume", name=self._name("vol"), zoneid=self.cloud.zone, diskofferingid=self.rng.choice(self.disks)
        )
        return True

    async def attach(self) -> bool:
        """Attach a detached volume to a running or stopped VM."""
        vol = await self._one(await self._volumes(attached=False))
        vm = await self._one(await self._vms("Running", "Stopped"))
        if vol is None or vm is None:
            return False
        await self.admin.run("attachVolume", id=vol["id"], virtualmachineid=vm["id"])
        return True

    async def detach(self) -> bool:
        """Detach an attached data volume."""
        vol = await self._one(await self._volumes(attached=True))
        if vol is None:
            return False
        await self.admin.run("detachVolume", id=vol["id"])
        return True

    async def resize(self) -> bool:
        """Grow a data volume by 1 to 10 GB."""
        vol = await self._one(await self._volumes())
        if vol is None:
            return False
        await self.admin.run("resizeVolume", id=vol["id"], size=vol["size"] // 2**30 + self.rng.randint(1, 10))
        return True

    async def delete_volume(self) -> bool:
        """Delete a detached data volume."""
        vol = await self._one(await self._volumes(attached=False))
        if vol is None:
            return False
        await self.admin.call("deleteVolume", id=vol["id"])
        return True

    async def maintenance(self) -> bool:
        """Put a host into maintenance (its VMs migrate or stop) and take it out again."""
        host = self.rng.choice(self.cloud.hosts)
        try:
            await self.admin.run("prepareHostForMaintenance", id=host)
        finally:
            try:
                await self.admin.run("cancelHostMaintenance", id=host)
            except ApiError:
                pass  # never entered maintenance
        return True

    def ops(self) -> list[tuple[str, int, Callable[[], Awaitable[bool]]]]:
        """Each operation with its weight."""
        return [
            ("deploy", 6, self.deploy),
            ("start", 3, self.start),
            ("stop", 3, self.stop),
            ("migrate", 3, self.migrate),
            ("destroy", 3, self.destroy),
            ("expunge", 2, self.expunge),
            ("createVolume", 3, self.create_volume),
            ("attachVolume", 3, self.attach),
            ("detachVolume", 2, self.detach),
            ("resizeVolume", 2, self.resize),
            ("deleteVolume", 2, self.delete_volume),
            ("maintenance", 1, self.maintenance),
            ("burst", 1, self.burst),
        ]

    async def run(self, steps: int) -> list[str]:
        """Run the operations, checking the invariant after each; the log of what ran."""
        await self.setup()
        ops = self.ops()
        log: list[str] = []
        for step in range(steps):
            name, _, op = self.rng.choices(ops, weights=[w for _, w, _ in ops])[0]
            try:
                ran = await op()
            except ApiError as exc:  # refused or failed (no room, wrong state): allocations must still add up
                self.failed[name] += 1
                log.append(f"{step} {name}: {exc.code} {exc}")
            else:
                if ran:
                    self.done[name] += 1
                    log.append(f"{step} {name}")
            wrong = capacity_mismatches(self.app)
            assert not wrong, "\n".join(log[-10:] + wrong)
        return log


async def run_invariant(app: VirgaApp, admin: VirgaClient, cloud: Cloud, seed: int, steps: int) -> Scenario:
    """Run a seeded scenario; assert every operation kind ran at least once and the allocations add up."""
    scenario = Scenario(app, admin, cloud, seed)
    await scenario.run(steps)
    missing = {name for name, _, _ in scenario.ops()} - set(scenario.done)
    assert not missing, f"seed {seed}: never ran {sorted(missing)} (done {dict(scenario.done)})"
    return scenario
