"""Virtual machine commands: the synchronous halves (validation, records) of the VM jobs."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from sqlmodel import col, select
from virga.api.listids import vm_data_volumes
from virga.api.registry import ADMINS, ROOT, Param, api
from virga.api.response import list_body
from virga.api.views.vm import VmBatch, vm_view
from virga.context import Ctx
from virga.errors import InvalidParameter
from virga.jobs.pending import Pending
from virga.models import (
    DiskOffering,
    Host,
    Network,
    Nic,
    ServiceOffering,
    SSHKeyPair,
    Template,
    VirtualMachine,
    Zone,
)
from virga.services import limits, vmconfig, vmdeploy, vmlifecycle, vmmigrate, vmpower
from virga.services.rules import check_hostname_free
from virga.services.states import HostState, NetworkState, VmState, check

HOSTNAME = re.compile(r"^[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")
VM_ID = [Param("id", "uuid", required=True, description="the ID of the virtual machine")]


def _offering_size(ctx: Ctx, off: ServiceOffering) -> tuple[int, int, int]:
    """CPU count, speed and memory from the offering or, for custom offerings, the details map."""
    if not off.iscustomized:
        return off.cpunumber or 1, off.cpuspeed or 0, off.memory or 0
    details = {k: v for d in (ctx.args.details or []) for k, v in d.items()}
    try:
        return int(details["cpunumber"]), int(details.get("cpuspeed", 1000)), int(details["memory"])
    except (KeyError, ValueError):
        raise InvalidParameter("A custom offering needs details[0].cpuNumber and details[0].memory") from None


def _userdata(raw: str | None) -> str:
    """Check that userdata is base64 (as CloudStack requires) and not too large."""
    if not raw:
        return ""
    try:
        decoded = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidParameter("Parameter userdata must be base64-encoded") from None
    if len(decoded) > 32768:
        raise InvalidParameter("Parameter userdata is larger than 32 KB")
    return raw


def _networks(ctx: Ctx, zone: Zone) -> list[Network]:
    """The networks named by networkids, or the caller's single network in the zone."""
    if ctx.args.networkids:
        nets = [ctx.get(Network, n, "networkids") for n in ctx.args.networkids]
    else:
        nets = list(
            ctx.db.exec(
                select(Network).where(
                    Network.zone_id == zone.id, Network.account_id == ctx.owner()[0].id, Network.removed == None
                )
            )
        )
        if len(nets) != 1:
            raise InvalidParameter(
                f"Parameter networkids is required: the account has {len(nets)} networks in zone {zone.name}"
            )
    for n in nets:
        if n.zone_id != zone.id:
            raise InvalidParameter(f"Network {n.name} is not in zone {zone.name}")
        if n.state == NetworkState.DESTROY:
            raise InvalidParameter(f"Network {n.name} is being destroyed")
    return nets


@api(
    "deployVirtualMachine",
    "Creates and automatically starts a virtual machine",
    "virtualmachine",
    [
        Param("serviceofferingid", "uuid", required=True, description="the service offering"),
        Param("templateid", "uuid", required=True, description="the template (or ISO)"),
        Param("zoneid", "uuid", required=True, description="the zone"),
        Param("name", description="host name of the VM"),
        Param("displayname", description="display name"),
        Param("networkids", "uuidlist", description="networks, the first is the default"),
        Param("ipaddress", description="the IP address on the default network"),
        Param("diskofferingid", "uuid", description="a data disk offering"),
        Param("size", "long", description="data disk size in GB (custom disk offerings)"),
        Param("rootdisksize", "long", description="root disk size in GB"),
        Param("keypair", description="the SSH key pair name"),
        Param("userdata", description="base64 user data"),
        Param("startvm", "boolean", description="false to deploy without starting"),
        Param("group", description="a group name"),
        Param("hostid", "uuid", description="deploy on this host (admin)"),
        Param("account", description="the owner account (admins)"),
        Param("domainid", "uuid", description="its domain"),
        Param("details", "map", description="custom offering details: cpuNumber, cpuSpeed, memory"),
        Param("hypervisor", description="the hypervisor"),
        Param("haenable", "boolean", description="HA"),
        Param("securitygroupids", "uuidlist", description="security groups (basic zones)"),
        Param("iptonetworklist", "map", description="unused"),
        Param("affinitygroupids", "uuidlist", description="unused"),
    ],
    is_async=True,
)
def deploy_vm(ctx: Ctx) -> Pending:
    """Validate, check limits, record the VM as Starting and queue the deploy job."""
    a = ctx.args
    account, domain = ctx.owner()
    zone, off, tmpl = ctx.get_all(
        (Zone, a.zoneid, "zoneid"),
        (ServiceOffering, a.serviceofferingid, "serviceofferingid"),
        (Template, a.templateid, "templateid"),
    )
    if zone.allocationstate != "Enabled" and not ctx.is_root:
        raise InvalidParameter(f"Zone {zone.name} is disabled")
    if not tmpl.isready:
        raise InvalidParameter(f"Template {tmpl.name} is not ready ({tmpl.status or 'not downloaded'})")
    if tmpl.zone_id not in (None, zone.id):
        raise InvalidParameter(f"Template {tmpl.name} is not available in zone {zone.name}")
    if a.diskofferingid:
        ctx.get(DiskOffering, a.diskofferingid, "diskofferingid")
    name = a.name or a.displayname or ""
    if name and not HOSTNAME.match(name):
        raise InvalidParameter(
            "Parameter name must be a valid host name: letters, digits and '-', "
            "starting with a letter, at most 63 characters"
        )
    keypair = ""
    if a.keypair:
        kp = ctx.db.exec(
            select(SSHKeyPair).where(
                SSHKeyPair.name == a.keypair, SSHKeyPair.account_id == account.id, SSHKeyPair.removed == None
            )
        ).first()
        if kp is None:
            raise InvalidParameter(f"Unable to find SSH key pair {a.keypair} (parameter keypair)")
        keypair = kp.name
    cpus, speed, memory = _offering_size(ctx, off)
    nets = _networks(ctx, zone)
    check_hostname_free(ctx.db, name, nets)
    for rtype, add in ((0, 1), (8, cpus), (9, memory), (2, 1 + bool(a.diskofferingid))):
        limits.check(ctx.db, account, rtype, add)
    row = {
        "displayname": a.displayname or name,
        "account_id": account.id or 0,
        "domain_id": domain.id or 0,
        "zone_id": zone.id or 0,
        "template_id": tmpl.id or 0,
        "serviceoffering_id": off.id or 0,
        "cpunumber": cpus,
        "cpuspeed": speed,
        "memory": memory,
        "hypervisor": tmpl.hypervisor if tmpl.hypervisor not in ("", "None") else "",
        "userdata": _userdata(a.userdata),
        "keypair": keypair,
        "group": a.group or "",
        "haenable": bool(a.haenable or off.offerha),
    }
    params = {
        "networkids": [n.uuid for n in nets],
        "ipaddress": a.ipaddress,
        "startvm": a.startvm if a.startvm is not None else True,
        "rootdisksize": a.rootdisksize,
        "diskofferingid": a.diskofferingid,
        "size": a.size,
    }
    return vmdeploy.record(ctx, row, name, a.displayname, nets, a.securitygroupids, params)


@api(
    "listVirtualMachines",
    "Lists virtual machines",
    "virtualmachine",
    [
        Param("id", "uuid", description="the VM"),
        Param("ids", "uuidlist", description="several VMs"),
        Param("name", description="the name"),
        Param("state", description="the state"),
        Param("zoneid", "uuid", description="the zone"),
        Param("hostid", "uuid", description="the host (admin)"),
        Param("networkid", "uuid", description="VMs on a network"),
        Param("templateid", "uuid", description="template"),
        Param("serviceofferingid", "uuid", description="offering"),
        Param("account", description="the account"),
        Param("domainid", "uuid", description="the domain"),
        Param("isrecursive", "boolean", description="subdomains"),
        Param("details", "list", description="unused"),
        Param("tags", "map", description="tags"),
        Param("groupid", "uuid", description="unused"),
        Param("hypervisor", description="hypervisor"),
        Param("keypair", description="key pair name"),
        Param("podid", "uuid", description="the pod (admin)"),
    ],
    paged=True,
)
def list_vms(ctx: Ctx) -> dict[str, Any]:
    """List the VMs the caller may see."""
    return list_body("virtualmachine", *_list(ctx))


def _list(ctx: Ctx) -> tuple[list[dict[str, Any]], int]:
    """Filter, page and serialise VMs."""
    a = ctx.args
    stmt = ctx.scope(select(VirtualMachine), VirtualMachine)
    if a.state:
        stmt = stmt.where(VirtualMachine.state == a.state)
    elif not a.id:
        stmt = stmt.where(VirtualMachine.state != VmState.EXPUNGED)
    for param, model, column in (
        ("zoneid", Zone, VirtualMachine.zone_id),
        ("hostid", Host, VirtualMachine.host_id),
        ("templateid", Template, VirtualMachine.template_id),
        ("serviceofferingid", ServiceOffering, VirtualMachine.serviceoffering_id),
    ):
        if a.get(param):
            stmt = stmt.where(column == ctx.get(model, a[param], param).id)
    if a.networkid:
        net = ctx.get(Network, a.networkid, "networkid")
        stmt = stmt.where(
            col(VirtualMachine.id).in_(select(Nic.vm_id).where(Nic.network_id == net.id, Nic.removed == None))
        )
    for param, field in (("hypervisor", VirtualMachine.hypervisor), ("keypair", VirtualMachine.keypair)):
        if a.get(param):
            stmt = stmt.where(field == a[param])
    rows, count = ctx.page(stmt, VirtualMachine, keyword=("name", "displayname"), resourcetype="UserVm")
    batch = VmBatch(ctx, rows)
    return [batch.view(v) for v in rows], count


def _vm_for(ctx: Ctx) -> VirtualMachine:
    """The VM named by id, which the caller may change."""
    vm = ctx.get(VirtualMachine, ctx.args.id)
    ctx.require(vm, f"VM {vm.name}")
    return vm


@api(
    "startVirtualMachine",
    "Starts a virtual machine",
    "virtualmachine",
    VM_ID
    + [
        Param("hostid", "uuid", description="start on this host (admin)"),
        Param("considerlasthost", "boolean", description="prefer the last host"),
    ],
    is_async=True,
)
def start_vm(ctx: Ctx) -> Pending:
    """Mark the VM Starting and queue the start."""
    host_id = None
    if ctx.args.hostid:
        if not ctx.is_root:
            raise InvalidParameter("Only administrators may choose the host")
        host_id = ctx.get(Host, ctx.args.hostid, "hostid").id
    vm = _vm_for(ctx)
    check(vm, "start")  # the state machine's 431, before anything else
    limits.check(ctx.db, ctx.by_id(type(ctx.account), vm.account_id) or ctx.account, 0, 0)
    return vmpower.request_start(ctx, vm, host_id)


@api(
    "stopVirtualMachine",
    "Stops a virtual machine",
    "virtualmachine",
    VM_ID + [Param("forced", "boolean", description="force the stop")],
    is_async=True,
)
def stop_vm(ctx: Ctx) -> Pending:
    """Mark the VM Stopping and queue the stop."""
    return vmpower.request_stop(ctx, _vm_for(ctx), bool(ctx.args.forced))


@api("rebootVirtualMachine", "Reboots a virtual machine", "virtualmachine", VM_ID, is_async=True)
def reboot_vm(ctx: Ctx) -> Pending:
    """Queue a reboot of a running VM."""
    return vmpower.request_reboot(ctx, _vm_for(ctx))


@api(
    "destroyVirtualMachine",
    "Destroys a virtual machine",
    "virtualmachine",
    VM_ID
    + [
        Param("expunge", "boolean", description="expunge at once"),
        Param("volumeids", "uuidlist", description="data volumes of this VM to delete with it"),
    ],
    is_async=True,
)
def destroy_vm(ctx: Ctx) -> Pending:
    """Queue a destroy (and expunge when asked)."""
    vm = ctx.get(VirtualMachine, ctx.args.id)
    ctx.require(vm, f"VM {vm.name}")
    check(vm, "destroy")
    if ctx.args.expunge and not ctx.is_root:
        raise InvalidParameter("Only administrators may expunge at once")
    volumeids = vm_data_volumes(ctx, vm, ctx.args.volumeids)  # each id authorised like a single one
    return Pending("VirtualMachine", vm.uuid, {"expunge": bool(ctx.args.expunge), "volumeids": volumeids})


@api("recoverVirtualMachine", "Recovers a destroyed virtual machine", "virtualmachine", VM_ID, roles=ADMINS)
def recover_vm(ctx: Ctx) -> dict[str, Any]:
    """Bring a Destroyed VM back to Stopped."""
    return {"virtualmachine": vm_view(ctx, vmlifecycle.recover(ctx, _vm_for(ctx)))}


@api("expungeVirtualMachine", "Expunges a destroyed virtual machine", "success", VM_ID, roles=ADMINS, is_async=True)
def expunge_vm(ctx: Ctx) -> Pending:
    """Queue the expunge of a Destroyed VM."""
    vm = ctx.get(VirtualMachine, ctx.args.id)
    ctx.require(vm, f"VM {vm.name}")
    if vm.state != VmState.DESTROYED:
        raise InvalidParameter(f"Unable to expunge VM {vm.name}: it is in state {vm.state} (destroy it first)")
    return Pending("VirtualMachine", vm.uuid)


@api(
    "updateVirtualMachine",
    "Updates a virtual machine's properties",
    "virtualmachine",
    VM_ID
    + [
        Param("displayname", description="display name"),
        Param("group", description="group"),
        Param("haenable", "boolean", description="HA"),
        Param("userdata", description="base64 user data"),
        Param("name", description="new host name (stopped VMs)"),
        Param("displayvm", "boolean", description="show"),
        Param("details", "map", description="details"),
        Param("ostypeid", "uuid", description="unused"),
    ],
)
def update_vm(ctx: Ctx) -> dict[str, Any]:
    """Change a VM's display name, group, HA flag, userdata or name."""
    vm = ctx.get(VirtualMachine, ctx.args.id)
    ctx.require(vm, f"VM {vm.name}")
    a = ctx.args
    changes: dict[str, Any] = {}
    if a.name and a.name != vm.name:
        if not HOSTNAME.match(a.name):
            raise InvalidParameter("Parameter name must be a valid host name")
        if vm.state != VmState.STOPPED:
            raise InvalidParameter("A VM must be stopped to change its name")
        changes["name"] = a.name
    changes.update({key: a[key] for key in vmconfig.PLAIN if a.get(key) is not None})
    if a.userdata is not None:
        changes["userdata"] = _userdata(a.userdata)
    details = {k: v for d in a.details for k, v in d.items()} if a.details else None
    return {"virtualmachine": vm_view(ctx, vmconfig.update(ctx, vm, changes, details))}


def _scale_params(ctx: Ctx, vm: VirtualMachine) -> dict[str, Any]:
    """Validate a new offering for a stopped VM and return the job's parameters."""
    off = ctx.get(ServiceOffering, ctx.args.serviceofferingid, "serviceofferingid")
    if vm.state != VmState.STOPPED:
        raise InvalidParameter(f"Unable to scale VM {vm.name}: it must be Stopped (it is {vm.state})")
    cpus, speed, memory = _offering_size(ctx, off)
    account = ctx.by_id(type(ctx.account), vm.account_id) or ctx.account
    limits.check(ctx.db, account, 8, cpus - vm.cpunumber)
    limits.check(ctx.db, account, 9, memory - vm.memory)
    return {"serviceofferingid": off.uuid, "cpunumber": cpus, "cpuspeed": speed, "memory": memory}


@api(
    "scaleVirtualMachine",
    "Changes a stopped VM's service offering",
    "virtualmachine",
    VM_ID
    + [
        Param("serviceofferingid", "uuid", required=True, description="the new offering"),
        Param("details", "map", description="custom offering details"),
    ],
    is_async=True,
)
def scale_vm(ctx: Ctx) -> Pending:
    """Queue a scale of a stopped VM."""
    vm = ctx.get(VirtualMachine, ctx.args.id)
    ctx.require(vm, f"VM {vm.name}")
    return Pending("VirtualMachine", vm.uuid, _scale_params(ctx, vm))


@api(
    "changeServiceForVirtualMachine",
    "Changes a stopped VM's service offering",
    "virtualmachine",
    VM_ID
    + [
        Param("serviceofferingid", "uuid", required=True, description="the new offering"),
        Param("details", "map", description="custom offering details"),
    ],
)
def change_service(ctx: Ctx) -> dict[str, Any]:
    """Change the offering of a stopped VM at once (its definition updates at next start)."""
    vm = ctx.get(VirtualMachine, ctx.args.id)
    ctx.require(vm, f"VM {vm.name}")
    p = _scale_params(ctx, vm)
    off = ctx.get(ServiceOffering, p["serviceofferingid"])
    return {"virtualmachine": vm_view(ctx, vmconfig.change_offering(ctx, vm, off, p))}


@api(
    "migrateVirtualMachine",
    "Migrates a VM to another host of its cluster",
    "virtualmachine",
    [
        Param("virtualmachineid", "uuid", required=True, description="the VM"),
        Param("hostid", "uuid", description="the destination host"),
        Param("storageid", "uuid", description="unused: volumes stay on their pool"),
    ],
    roles=ROOT,
    is_async=True,
)
def migrate_vm(ctx: Ctx) -> Pending:
    """Validate the destination and queue the migration."""
    vm = ctx.get(VirtualMachine, ctx.args.virtualmachineid, "virtualmachineid")
    if not ctx.args.hostid:
        raise InvalidParameter("Missing parameter hostid")
    dst = ctx.get(Host, ctx.args.hostid, "hostid")
    src = ctx.by_id(Host, vm.host_id or vm.last_host_id)
    if src is None:
        raise InvalidParameter(f"VM {vm.name} has never been placed on a host")
    if dst.id == src.id:
        raise InvalidParameter(f"VM {vm.name} is already on host {dst.name}")
    if dst.cluster_id != src.cluster_id:
        raise InvalidParameter(f"Host {dst.name} is not in the cluster of host {src.name}")
    if dst.state != HostState.UP or dst.resourcestate != "Enabled":
        raise InvalidParameter(f"Host {dst.name} is {dst.state}/{dst.resourcestate}")
    return vmmigrate.request_migrate(ctx, vm, dst)
