"""The virtualmachine response object, built in batches for fast lists."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam
from sqlmodel import col, select
from virga.api.response import clean
from virga.api.views.common import owner, preload_owners, ref, tags_of
from virga.context import Ctx
from virga.db import by_column
from virga.models import (
    AsyncJob,
    Host,
    Network,
    Nic,
    PublicIpAddress,
    SecurityGroup,
    SecurityGroupVm,
    ServiceOffering,
    Template,
    VirtualMachine,
    Volume,
    Zone,
    utcnow,
)
from virga.services.states import VmState

RUNNING = VmState.RUNNING  # bound once: a page renders hundreds of VMs (an enum attribute lookup costs 3x)
# Built once (see virga.db.by_column); `v` is the list of VM uuids or ids of a page.
ACTIVE_JOBS = select(AsyncJob).where(
    AsyncJob.instance_uuid.in_(bindparam("v", expanding=True)),  # type: ignore[attr-defined]
    col(AsyncJob.state).in_(("queued", "running")),
)
GROUPS = (
    select(SecurityGroupVm, SecurityGroup)
    .join(SecurityGroup, col(SecurityGroup.id) == SecurityGroupVm.securitygroup_id)
    .where(col(SecurityGroupVm.vm_id).in_(bindparam("v", expanding=True)))
)


def nic_view(ctx: Ctx, n: Nic) -> dict[str, Any]:
    """A nic response object."""
    net = ctx.by_id(Network, n.network_id)
    return clean(
        {
            "id": n.uuid,
            "networkid": net.uuid if net else None,
            "networkname": net.name if net else None,
            "ipaddress": n.ipaddress,
            "gateway": n.gateway or None,
            "netmask": n.netmask or None,
            "macaddress": n.macaddress,
            "isdefault": n.isdefault,
            "traffictype": n.traffictype,
            "type": n.type,
            "broadcasturi": n.broadcasturi or None,
            "isolationuri": n.isolationuri or None,
            "deviceid": str(n.deviceid),
        }
    )


class VmBatch:
    """Everything the VMs of one page refer to, loaded in a handful of queries."""

    def __init__(self, ctx: Ctx, vms: list[VirtualMachine]) -> None:
        """Preload related rows for a page of VMs."""
        self.ctx = ctx
        self.now = utcnow()
        ids = [v.id for v in vms]
        uuids = [v.uuid for v in vms]
        preload_owners(ctx, vms)
        for model, attr in ((Zone, "zone_id"), (Template, "template_id"), (ServiceOffering, "serviceoffering_id")):
            ctx.preload(model, {getattr(v, attr) for v in vms})
        ctx.preload_refs(Host, {v.host_id for v in vms})  # a page can touch hundreds of hosts: id and name only
        ctx.preload(Template, {v.iso_id for v in vms})
        self.nics: dict[int, list[Nic]] = {}
        # `removed` is filtered here, not in SQL: SQLite would otherwise walk the index of removed
        # (NULL for nearly every row) instead of the vm_id index.
        if ids:
            nics = ctx.db.exec(by_column(Nic, "vm_id", many=True), params={"v": ids})
            for n in sorted(nics, key=lambda n: n.deviceid):
                if n.removed is None:
                    self.nics.setdefault(n.vm_id or 0, []).append(n)
        ctx.preload(Network, {n.network_id for ns in self.nics.values() for n in ns})
        self.jobs = {}
        if uuids:
            for j in ctx.db.exec(ACTIVE_JOBS, params={"v": uuids}):
                self.jobs[j.instance_uuid] = j
        self.tags = tags_of(ctx, "UserVm", vms)
        self.nat: dict[int, str] = {}
        self.groups: dict[int, list[dict[str, Any]]] = {}
        if ids:
            for ip in ctx.db.exec(by_column(PublicIpAddress, "vm_id", many=True), params={"v": ids}):
                self.nat[ip.vm_id or 0] = ip.ipaddress
            for link, sg in ctx.db.exec(GROUPS, params={"v": ids}):
                if link.removed is None:
                    self.groups.setdefault(link.vm_id, []).append({"id": sg.uuid, "name": sg.name})

    def view(self, vm: VirtualMachine) -> dict[str, Any]:
        """One virtualmachine response object."""
        ctx = self.ctx
        offering = ctx.by_id(ServiceOffering, vm.serviceoffering_id)
        tmpl = ctx.by_id(Template, vm.template_id)
        job = self.jobs.get(vm.uuid)
        admin = ctx.role != "User"
        out = {
            "id": vm.uuid,
            "name": vm.name,
            "displayname": vm.displayname or vm.name,
            "state": vm.state,
            **ref(ctx, Zone, vm.zone_id, "zone"),
            **owner(ctx, vm),
            "created": vm.created,
            "templateid": tmpl.uuid if tmpl else None,
            "templatename": tmpl.name if tmpl else None,
            "templatedisplaytext": tmpl.displaytext if tmpl else None,
            "passwordenabled": bool(tmpl and tmpl.passwordenabled),
            "haenable": vm.haenable,
            "serviceofferingid": offering.uuid if offering else None,
            "serviceofferingname": offering.name if offering else None,
            "cpunumber": vm.cpunumber,
            "cpuspeed": vm.cpuspeed,
            "memory": vm.memory,
            "hypervisor": vm.hypervisor,
            "instancename": vm.instancename if admin else None,
            "group": vm.group or None,
            "keypair": vm.keypair or None,
            "displayvm": vm.displayvm,
            "isdynamicallyscalable": False,
            "nic": [nic_view(ctx, n) for n in self.nics.get(vm.id or 0, [])],
            "securitygroup": self.groups.get(vm.id or 0, []),
            "tags": self.tags.get(vm.id or 0, []),
            "affinitygroup": [],
            "details": dict(vm.details or {}) or None,
            "publicip": self.nat.get(vm.id or 0),
            "isoid": None,
            "osdisplayname": None,
        }
        if vm.iso_id:
            out.update(ref(ctx, Template, vm.iso_id, "iso"))
        if admin and vm.host_id:
            out.update(ref(ctx, Host, vm.host_id, "host"))
        if job is not None:
            out.update(jobid=job.uuid, jobstatus=0)
        if vm.state == RUNNING:
            out["lastupdated"] = self.now
        return clean(out)


def vm_view(ctx: Ctx, vm: VirtualMachine) -> dict[str, Any]:
    """One virtualmachine response object (for single-VM answers)."""
    return VmBatch(ctx, [vm]).view(vm)


def root_volume(ctx: Ctx, vm: VirtualMachine) -> Volume | None:
    """The ROOT volume of a VM."""
    stmt = select(Volume).where(Volume.vm_id == vm.id, Volume.type == "ROOT", Volume.removed == None)
    return ctx.db.exec(stmt).first()


def vm_views(ctx: Ctx, vms: list[VirtualMachine]) -> list[dict[str, Any]]:
    """Many virtualmachine response objects, their related rows loaded in one batch."""
    batch = VmBatch(ctx, vms)
    return [batch.view(v) for v in vms]


RENDERERS = {VirtualMachine: ("virtualmachine", vm_views)}
