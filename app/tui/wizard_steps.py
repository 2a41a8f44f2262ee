"""The zone wizard's steps as data: fields, inline checks and the API calls each step makes (pure)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from virga.tui import validate
from virga.tui.catalog.base import Field

State = dict[str, Any]
Values = dict[str, str]
Params = Callable[[Values, State], dict[str, Any]]


@dataclass(frozen=True)
class Call:
    """One API call of a step: its parameters from the values and what it stores in the state."""

    command: str
    params: Params
    store: Callable[[dict[str, Any], State], None] = lambda body, state: None

    def describe(self, values: Values, state: State) -> str:
        """The call as a short line."""
        return self.command


@dataclass(frozen=True)
class Step:
    """One page of the wizard."""

    name: str
    title: str
    fields: tuple[Field, ...]
    calls: Callable[[Values, State], list[Call]]
    check: Callable[[Values], str | None] = lambda values: None
    help: str = ""
    task: Callable[..., Awaitable[None]] | None = None  # instead of API calls: task(tui, values, state, say)


@dataclass
class Kind:
    """What the user builds: the defaults each step starts with."""

    name: str
    label: str
    hypervisor: str
    host_urls: str
    primary_url: str
    secondary_url: str
    username: str = "root"
    pool_url: str = ""  # a XenServer pool master / vCenter cluster URL: addCluster imports its hosts
    clustertype: str = "CloudManaged"


KINDS = {
    "sandbox": Kind(
        "sandbox",
        "Sandbox on the simulator (no real VMs)",
        "Simulator",
        "simulator://sim-host-1,simulator://sim-host-2",
        "simulator://primary-1",
        "nfs://127.0.0.1/export/secondary",
    ),
    "kvm": Kind(
        "kvm",
        "This machine's KVM/QEMU through libvirt",
        "KVM",
        "qemu:///system",
        "sharedmountpoint:///var/lib/virga/primary",
        "nfs://127.0.0.1/export/secondary",
    ),
    "remote": Kind(
        "remote",
        "Remote hosts (KVM over SSH)",
        "KVM",
        "http://192.0.2.10",
        "nfs://192.0.2.2/export/primary",
        "nfs://192.0.2.2/export/secondary",
    ),
    "xen": Kind(
        "xen",
        "A XenServer / XCP-ng pool (its hosts and storage are imported)",
        "XenServer",
        "",
        "nfs://192.0.2.2/export/primary",
        "nfs://192.0.2.2/export/secondary",
        pool_url="http://192.0.2.20",
    ),
    "vmware": Kind(
        "vmware",
        "A vCenter cluster (its hosts and datastores are imported)",
        "VMware",
        "",
        "nfs://192.0.2.2/export/primary",
        "nfs://192.0.2.2/export/secondary",
        username="administrator@vsphere.local",
        pool_url="https://192.0.2.30/Datacenter/Cluster",
        clustertype="ExternalManaged",
    ),
}


LIBVIRT_SOCKET = "/var/run/libvirt/libvirt-sock"


def libvirt_available(socket_path: str = LIBVIRT_SOCKET) -> bool:
    """Whether libvirt is installed and its daemon's socket is reachable (the KVM choice is offered only then)."""
    return shutil.which("virsh") is not None and os.path.exists(socket_path) and os.access(socket_path, os.W_OK)


def kind_options(embedded: bool, libvirt: bool | None = None) -> tuple[str, ...]:
    """The choices of the first step: this machine's KVM only for the embedded server with libvirt."""
    local = libvirt_available() if libvirt is None else libvirt
    return ("sandbox", *(("kvm",) if embedded and local else ()), "remote", "xen", "vmware")


def check_public(values: Values) -> str | None:
    """The public range must sit in its subnet, gateway outside."""
    return validate.ip_range(
        values.get("startip", ""), values.get("endip", ""), values.get("gateway", ""), values.get("netmask", "")
    )


def check_pod(values: Values) -> str | None:
    """The pod's reserved range must sit in its subnet."""
    return validate.ip_range(
        values.get("startip", ""), values.get("endip", ""), values.get("gateway", ""), values.get("netmask", "")
    )


def check_hosts(values: Values) -> str | None:
    """Every host URL must be a URL."""
    for url in values.get("urls", "").split(","):
        if err := validate.url(url.strip()):
            return err
    return None


def put(key: str, item: str) -> Callable[[dict[str, Any], State], None]:
    """Store body[item]['id'] (or body[item][0]['id']) as state[key]."""

    def store(body: dict[str, Any], state: State) -> None:
        """Keep the new object's id."""
        obj = body.get(item)
        if isinstance(obj, list):
            obj = obj[0] if obj else {}
        state[key] = (obj or {}).get("id", "")
        state.setdefault("created", []).append(f"{item} {(obj or {}).get('name', state[key])}")

    return store


def zone_calls(v: Values, s: State) -> list[Call]:
    """createZone."""
    return [
        Call(
            "createZone",
            lambda v, s: {
                "name": v["name"],
                "dns1": v["dns1"],
                "internaldns1": v["internaldns1"],
                "networktype": "Advanced",
                "guestcidraddress": v.get("guestcidr"),
                "allocationstate": "Disabled",
            },
            put("zoneid", "zone"),
        )
    ]


def network_calls(v: Values, s: State) -> list[Call]:
    """createPhysicalNetwork, its traffic types, enabling it, and the public IP range."""
    calls = [
        Call(
            "createPhysicalNetwork",
            lambda v, s: {"zoneid": s["zoneid"], "name": v["physnet"], "isolationmethods": "VLAN"},
            put("physicalnetworkid", "physicalnetwork"),
        )
    ]
    for traffic in ("Management", "Guest", "Public"):
        calls.append(Call("addTrafficType", _traffic_params(traffic)))
    calls.append(Call("updatePhysicalNetwork", lambda v, s: {"id": s["physicalnetworkid"], "state": "Enabled"}))
    calls.append(
        Call(
            "createVlanIpRange",
            lambda v, s: {
                "zoneid": s["zoneid"],
                "physicalnetworkid": s["physicalnetworkid"],
                "gateway": v["gateway"],
                "netmask": v["netmask"],
                "startip": v["startip"],
                "endip": v["endip"],
                "vlan": v.get("vlan") or "untagged",
                "forvirtualnetwork": True,
            },
            keep_vlan,
        )
    )
    return calls


def keep_vlan(body: dict[str, Any], state: State) -> None:
    """Store the public range's id; the summary names it by its range, not its uuid."""
    obj = body.get("vlan")
    obj = (obj[0] if obj else {}) if isinstance(obj, list) else (obj or {})
    state["vlanid"] = obj.get("id", "")
    state.setdefault("created", []).append(f"public IPs {obj.get('startip', '?')}-{obj.get('endip', '?')}")


def _traffic_params(traffic: str) -> Params:
    """addTrafficType's parameters for one traffic type."""
    return lambda v, s: {"physicalnetworkid": s["physicalnetworkid"], "traffictype": traffic}


def pod_calls(v: Values, s: State) -> list[Call]:
    """createPod."""
    return [
        Call(
            "createPod",
            lambda v, s: {
                "zoneid": s["zoneid"],
                "name": v["name"],
                "gateway": v["gateway"],
                "netmask": v["netmask"],
                "startip": v["startip"],
                "endip": v["endip"],
            },
            put("podid", "pod"),
        )
    ]


def cluster_calls(v: Values, s: State) -> list[Call]:
    """addCluster (with the pool/vCenter URL and credentials when the kind imports its hosts)."""
    return [
        Call(
            "addCluster",
            lambda v, s: {
                "zoneid": s["zoneid"],
                "podid": s["podid"],
                "clustername": v["name"],
                "hypervisor": v["hypervisor"],
                "clustertype": v.get("clustertype") or "CloudManaged",
                "url": v.get("url") or None,
                "username": v.get("username") or None,
                "password": v.get("password") or None,
            },
            keep_cluster,
        )
    ]


def cluster_fields(kind: Kind) -> tuple[Field, ...]:
    """The cluster page: name and hypervisor, plus the pool/vCenter URL and credentials to import from."""
    base = (
        Field("name", "Cluster name", "cluster-1", True, validate=validate.required),
        Field("hypervisor", "Hypervisor", kind.hypervisor, True, options=("Simulator", "KVM", "XenServer", "VMware")),
    )
    if not kind.pool_url:
        return base
    what = "vCenter cluster URL" if kind.hypervisor == "VMware" else "Pool master URL"
    return (
        *base,
        Field("clustertype", "Cluster type", kind.clustertype, True, options=("CloudManaged", "ExternalManaged")),
        Field("url", what, kind.pool_url, True, validate=validate.url),
        Field("username", "Username", kind.username, True, validate=validate.required),
        Field("password", "Password", required=True, password=True, validate=validate.required),
    )


def hosts_step(kind: Kind) -> list[Step]:
    """The hosts page (none when the cluster imports its hosts from a pool or vCenter)."""
    if kind.pool_url:
        return []
    return [
        Step(
            "hosts",
            "Hosts",
            (
                Field("urls", "Host URLs (comma-separated)", kind.host_urls, True, validate=validate.required),
                Field("username", "Username", kind.username, kind.name == "remote"),
                Field("password", "Password", required=kind.name == "remote", password=True),
            ),
            host_calls,
            check_hosts,
        )
    ]


def keep_cluster(body: dict[str, Any], state: State) -> None:
    """Store the cluster's id and hypervisor (the hosts step needs both)."""
    put("clusterid", "cluster")(body, state)
    obj = body.get("cluster")
    obj = (obj[0] if obj else {}) if isinstance(obj, list) else (obj or {})
    state["hypervisor"] = obj.get("hypervisortype") or obj.get("hypervisor") or "Simulator"


def host_calls(v: Values, s: State) -> list[Call]:
    """addHost once per URL."""
    return [
        Call("addHost", _host_params(url.strip()), put("hostid", "host")) for url in v["urls"].split(",") if url.strip()
    ]


def _host_params(url: str) -> Params:
    """addHost's parameters for one host URL."""
    return lambda v, s: {
        "zoneid": s["zoneid"],
        "podid": s["podid"],
        "clusterid": s["clusterid"],
        "hypervisor": s["hypervisor"],
        "url": url,
        "username": v.get("username"),
        "password": v.get("password"),
    }


def primary_calls(v: Values, s: State) -> list[Call]:
    """createStoragePool (cluster scope)."""
    return [
        Call(
            "createStoragePool",
            lambda v, s: {
                "zoneid": s["zoneid"],
                "podid": s["podid"],
                "clusterid": s["clusterid"],
                "name": v["name"],
                "url": v["url"],
                "scope": "cluster",
            },
            put("poolid", "storagepool"),
        )
    ]


def secondary_calls(v: Values, s: State) -> list[Call]:
    """addImageStore (NFS)."""
    return [
        Call(
            "addImageStore",
            lambda v, s: {"zoneid": s["zoneid"], "name": v["name"], "url": v["url"], "provider": "NFS"},
            put("storeid", "imagestore"),
        )
    ]


def launch_calls(v: Values, s: State) -> list[Call]:
    """updateZone allocationstate=Enabled."""
    return [Call("updateZone", lambda v, s: {"id": s["zoneid"], "allocationstate": "Enabled"})]


SANDBOX_TEMPLATE = "tiny-linux"


def keep_ostype(body: dict[str, Any], state: State) -> None:
    """Store the first OS type's id (the sandbox template needs one)."""
    types = body.get("ostype") or []
    state["ostypeid"] = types[0]["id"] if types else ""


def sandbox_launch_calls(v: Values, s: State) -> list[Call]:
    """Enable the zone, then register the simulator's template so that the first deploy works at once."""
    return [
        *launch_calls(v, s),
        Call("listOsTypes", lambda v, s: {"description": "Other Linux (64-bit)"}, keep_ostype),
        Call(
            "registerTemplate",
            lambda v, s: {
                "name": SANDBOX_TEMPLATE,
                "displaytext": "Tiny Linux (simulated)",
                "url": "simulator://templates/tiny-linux.qcow2",
                "zoneid": s["zoneid"],
                "format": "QCOW2",
                "hypervisor": "Simulator",
                "ostypeid": s.get("ostypeid"),
                "ispublic": True,
                "isfeatured": True,
            },
            put("templateid", "template"),
        ),
    ]


def check_pod_against(public: Values) -> Callable[[Values], str | None]:
    """The pod's reserved range must be coherent and stay out of the public range of the network step."""

    def check(values: Values) -> str | None:
        """Subnet, then no overlap with the public range."""
        if err := check_pod(values):
            return err
        if public.get("startip") and public.get("endip"):
            if validate.overlaps(values["startip"], values["endip"], [(public["startip"], public["endip"])]):
                return f"pod range inside the public range ({public['startip']}-{public['endip']})"
        return None

    return check


def primary_step(kind: Kind) -> list[Step]:
    """The primary storage page (none when the pool's/vCenter's storage is imported with the cluster)."""
    if kind.pool_url:
        return []
    return [
        Step(
            "primary",
            "Primary storage",
            (
                Field("name", "Pool name", "primary-1", True, validate=validate.required),
                Field("url", "URL", kind.primary_url, True, validate=validate.url),
            ),
            primary_calls,
        )
    ]


def steps_for(kind: Kind) -> list[Step]:
    """Every step after the choice of kind, with that kind's defaults."""
    return [
        Step(
            "zone",
            "Zone",
            (
                Field("name", "Zone name", "zone-1", True, validate=validate.required),
                Field("dns1", "Public DNS", "192.0.2.53", True, validate=validate.ip),
                Field("internaldns1", "Internal DNS", "192.0.2.53", True, validate=validate.ip),
                Field("guestcidr", "Guest CIDR", "10.1.0.0/16", True, validate=validate.cidr),
            ),
            zone_calls,
        ),
        Step(
            "network",
            "Physical network and public IPs",
            (
                Field("physnet", "Physical network name", "physnet-1", True, validate=validate.required),
                Field("gateway", "Public gateway", "198.51.100.1", True, validate=validate.ip),
                Field("netmask", "Public netmask", "255.255.255.0", True, validate=validate.netmask),
                Field("startip", "First public IP", "198.51.100.10", True, validate=validate.ip),
                Field("endip", "Last public IP", "198.51.100.99", True, validate=validate.ip),
                Field("vlan", "VLAN (empty: untagged)"),
            ),
            network_calls,
            check_public,
        ),
        Step(
            "pod",
            "Pod",
            (
                Field("name", "Pod name", "pod-1", True, validate=validate.required),
                Field("gateway", "Management gateway", "172.16.0.1", True, validate=validate.ip),
                Field("netmask", "Netmask", "255.255.255.0", True, validate=validate.netmask),
                Field("startip", "First reserved IP", "172.16.0.10", True, validate=validate.ip),
                Field("endip", "Last reserved IP", "172.16.0.200", True, validate=validate.ip),
            ),
            pod_calls,
            check_pod,
        ),
        Step(
            "cluster",
            "Cluster",
            cluster_fields(kind),
            cluster_calls,
            help="The hosts and storage of the pool/vCenter cluster are imported." if kind.pool_url else "",
        ),
        *hosts_step(kind),
        *primary_step(kind),
        Step(
            "secondary",
            "Secondary storage",
            (
                Field("name", "Image store name", "secondary-1", True, validate=validate.required),
                Field("url", "NFS URL", kind.secondary_url, True, validate=validate.url),
            ),
            secondary_calls,
        ),
        Step(
            "launch",
            "Review and launch",
            (),
            sandbox_launch_calls if kind.name == "sandbox" else launch_calls,
            help="Check what was set up, then launch: the zone is enabled and its hosts take VMs from now on."
            + (
                " The simulator's tiny-linux template is registered for the first deploy."
                if kind.name == "sandbox"
                else ""
            ),
        ),
    ]


@dataclass
class Progress:
    """Where the wizard is: finished steps, the calls done inside the current one, ids created."""

    done: set[str] = field(default_factory=set)
    calls_done: dict[str, int] = field(default_factory=dict)
    state: State = field(default_factory=dict)
    failed: str = ""
