"""Finding things in a vSphere inventory and turning them into virga's typed records (blocking)."""

from __future__ import annotations

from typing import Any, TypeVar

from pyVmomi import vim
from virga.drivers.base import (
    DiscoveredHost,
    HostConnection,
    HostFacts,
    InstanceInfo,
    InstanceNotFound,
    InvalidSpec,
    Inventory,
    PoolSpec,
    TemplateSpec,
)
from virga.drivers.vmware.session import Session
from virga.drivers.vmware.states import power_state

E = TypeVar("E", bound=vim.ManagedEntity)
HYPERVISOR = "VMware"
HOST_PROPS = ("name", "summary.hardware", "summary.config.product", "parent", "runtime.connectionState")
VM_PROPS = (
    "name",
    "config.instanceUuid",
    "config.uuid",
    "config.template",
    "runtime.powerState",
    "config.hardware.numCPU",
    "config.hardware.memoryMB",
    "runtime.host",
)
TEMPLATE_PROPS = ("name", "config.template", "config.instanceUuid", "config.guestFullName", "summary.storage.committed")


def datacenter_of(entity: vim.ManagedEntity) -> vim.Datacenter:
    """Walk up the parents of an entity to its datacenter."""
    obj: vim.ManagedEntity | None = entity
    while obj is not None and not isinstance(obj, vim.Datacenter):
        obj = obj.parent
    if obj is None:
        raise InvalidSpec(f"{entity} is not inside a datacenter")
    return obj


def hosts(s: Session) -> list[dict[str, Any]]:
    """Every host system, sorted by name."""
    return sorted(s.retrieve(s.content.rootFolder, vim.HostSystem, HOST_PROPS), key=lambda r: r["name"])


def pick_host(s: Session, wanted: str) -> dict[str, Any]:
    """The host named (or with the moref) `wanted`; the first host when wanted is empty."""
    rows = hosts(s)
    if not rows:
        raise InvalidSpec("the vSphere server has no hosts")
    if not wanted:
        return rows[0]
    for row in rows:
        if wanted in (row["name"], row["_obj"]._moId):
            return row
    raise InvalidSpec(f"host {wanted!r} not found on the vSphere server")


def host_facts(s: Session, row: dict[str, Any]) -> HostFacts:
    """HostFacts from a host row (see HOST_PROPS)."""
    hw = row["summary.hardware"]
    product = row.get("summary.config.product") or s.content.about
    parent = row.get("parent")
    cluster = parent.name if isinstance(parent, vim.ClusterComputeResource) else ""
    return HostFacts(
        name=row["name"],
        hypervisor=HYPERVISOR,
        hypervisor_version=product.version,
        cpu_model=hw.cpuModel,
        cpu_count=int(hw.numCpuThreads),
        cpu_mhz=int(hw.cpuMhz),
        memory_bytes=int(hw.memorySize),
        extra={
            "moref": row["_obj"]._moId,
            "cluster": cluster,
            "endpoint": s.content.about.fullName,
            "datacenter": datacenter_of(row["_obj"]).name,
        },
    )


def resource_pool(host: vim.HostSystem) -> vim.ResourcePool:
    """The root resource pool of the host's (cluster) compute resource."""
    parent = host.parent
    if not isinstance(parent, vim.ComputeResource):
        raise InvalidSpec(f"host {host.name} has no compute resource")
    if parent.resourcePool is None:
        raise InvalidSpec(f"host {host.name} has no resource pool")
    return parent.resourcePool


def find_named(s: Session, root: vim.ManagedEntity, kind: type[E], name: str, what: str) -> E:
    """The one object of a type with a given name, or InvalidSpec."""
    for row in s.retrieve(root, kind, ["name"]):
        if row["name"] == name:
            return row["_obj"]
    raise InvalidSpec(f"{what} {name!r} does not exist on the vSphere server")


def template_name(template: TemplateSpec) -> str:
    """The vSphere template a virga template stands for: details['vsphere_template'] or its name."""
    return str(template.details.get("vsphere_template") or template.name)


def find_template(s: Session, root: vim.ManagedEntity, name: str) -> vim.VirtualMachine:
    """A vSphere template by name, or InvalidSpec naming it."""
    for row in s.retrieve(root, vim.VirtualMachine, ["name", "config.template"]):
        if row["name"] == name and row.get("config.template"):
            return row["_obj"]
    raise InvalidSpec(f"template {name!r} does not exist on the vSphere server")


def to_instance(row: dict[str, Any]) -> InstanceInfo:
    """InstanceInfo from a VM row (see VM_PROPS)."""
    host = row.get("runtime.host")
    return InstanceInfo(
        uuid=row.get("config.instanceUuid") or row.get("config.uuid", ""),
        name=row["name"],
        state=power_state(row.get("runtime.powerState")),
        cpus=int(row.get("config.hardware.numCPU", 0)),
        memory_mb=int(row.get("config.hardware.memoryMB", 0)),
        extra={"moref": row["_obj"]._moId, "host": host._moId if host is not None else ""},
    )


def vm_rows(s: Session, host: vim.HostSystem | None) -> list[dict[str, Any]]:
    """Rows of every VM (not template), on one host when given."""
    rows = s.retrieve(s.content.rootFolder, vim.VirtualMachine, VM_PROPS)
    return [r for r in rows if not r.get("config.template") and (host is None or r.get("runtime.host") == host)]


def find_vm(s: Session, uuid: str, host: vim.HostSystem | None) -> vim.VirtualMachine:
    """The VM whose instance uuid (or BIOS uuid) is `uuid`, on the host when scoped."""
    index = s.content.searchIndex
    vm = index.FindByUuid(None, uuid, True, True) or index.FindByUuid(None, uuid, True, False)
    if vm is None:
        raise InstanceNotFound(f"no virtual machine with uuid {uuid} on the vSphere server")
    if host is not None and s.props(vm, ["runtime.host"]).get("runtime.host") != host:
        raise InstanceNotFound(f"virtual machine {uuid} is not on host {host.name}")
    return vm


def _pools(s: Session, root: vim.ManagedEntity) -> list[PoolSpec]:
    """Every datastore under root as a PoolSpec of kind 'datastore'."""
    rows = s.retrieve(root, vim.Datastore, ["name", "summary.url"])
    return [
        PoolSpec(
            uuid=r.get("summary.url") or r["_obj"]._moId,
            name=r["name"],
            kind="datastore",
            url=r.get("summary.url", ""),
            path=f"[{r['name']}]",
        )
        for r in sorted(rows, key=lambda r: r["name"])
    ]


def _templates(s: Session, root: vim.ManagedEntity) -> list[TemplateSpec]:
    """Every vSphere template under root as a TemplateSpec."""
    rows = s.retrieve(root, vim.VirtualMachine, TEMPLATE_PROPS)
    return [
        TemplateSpec(
            uuid=r.get("config.instanceUuid", r["_obj"]._moId),
            name=r["name"],
            url=f"vsphere-template://{r['name']}",
            format="VMDK",
            size_bytes=int(r.get("summary.storage.committed", 0)),
            os_type=r.get("config.guestFullName", "") or "Other Linux (64-bit)",
            details={"moref": r["_obj"]._moId, "vsphere_template": r["name"]},
        )
        for r in sorted(rows, key=lambda r: r["name"])
        if r.get("config.template")
    ]


def _scope(s: Session, conn: HostConnection) -> tuple[vim.ManagedEntity, list[str]]:
    """The root to search (the datacenter named by options['datacenter'], else everything) and the DC names."""
    wanted = str(conn.options.get("datacenter", ""))
    dcs = {r["name"]: r["_obj"] for r in s.retrieve(s.content.rootFolder, vim.Datacenter, ["name"])}
    if not wanted:
        return s.content.rootFolder, sorted(dcs)
    if wanted not in dcs:
        raise InvalidSpec(
            f"datacenter {wanted!r} does not exist on the vSphere server (it has {', '.join(sorted(dcs)) or 'none'})"
        )
    return dcs[wanted], [wanted]


def discover(s: Session, conn: HostConnection) -> Inventory:
    """Datacenters, hosts with their clusters, datastores, networks and templates (options datacenter/cluster
    narrow it to one datacenter and one cluster)."""
    root, dcs = _scope(s, conn)
    cluster = str(conn.options.get("cluster", ""))
    found = []
    for row in hosts(s):
        facts = host_facts(s, row)
        if facts.extra["datacenter"] not in dcs or (cluster and facts.extra["cluster"] != cluster):
            continue
        opts = {**conn.options, "host": row["_obj"]._moId}
        found.append(
            DiscoveredHost(
                facts=facts,
                cluster=facts.extra["cluster"],
                conn=HostConnection(url=conn.url, username=conn.username, password=conn.password, options=opts),
            )
        )
    if cluster and not found:
        raise InvalidSpec(f"cluster {cluster!r} does not exist (or has no hosts) in datacenter {', '.join(dcs)}")
    nets = sorted({r["name"] for r in s.retrieve(root, vim.Network, ["name"])})
    return Inventory(
        hosts=tuple(found),
        pools=tuple(_pools(s, root)),
        networks=tuple(nets),
        templates=tuple(_templates(s, root)),
        datacenter=",".join(dcs),
    )
