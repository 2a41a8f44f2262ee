"""Catalog entries for infrastructure: zones, pods, clusters, hosts, storage, physical networks."""

from __future__ import annotations

from virga.tui import validate
from virga.tui.catalog.base import (
    Action,
    Choice,
    DefaultFrom,
    Field,
    Resource,
    col,
    delete,
    id_only,
    nothing,
    register,
    size_col,
    state_col,
)
from virga.tui.widgets.resource_table import Column

ZONES = Choice("listZones", "zone")
PODS = Choice("listPods", "pod")
CLUSTERS = Choice("listClusters", "cluster")
HYPERVISORS = ("Simulator", "KVM", "XenServer", "VMware")


def enable(command: str, key: str = "e") -> Action:
    """Enable a zone/pod/cluster/host (allocationstate)."""
    return Action(key, "Enable", command, lambda i: {"id": i["id"], "allocationstate": "Enabled"})


def disable(command: str, key: str = "D") -> Action:
    """Disable a zone/pod/cluster/host (allocationstate)."""
    return Action(key, "Disable", command, lambda i: {"id": i["id"], "allocationstate": "Disabled"}, confirm=True)


HOST_ACTIONS = (
    Action(
        "n",
        "Add host",
        "addHost",
        nothing,
        (
            Field("zoneid", "Zone", required=True, choice=ZONES),
            Field("podid", "Pod", required=True, choice=Choice("listPods", "pod", where={"zoneid": "zoneid"})),
            Field(
                "clusterid",
                "Cluster",
                required=True,
                choice=Choice("listClusters", "cluster", where={"podid": "podid"}),
            ),
            Field(
                "hypervisor",
                "Hypervisor",
                default="Simulator",
                options=HYPERVISORS,
                default_from=DefaultFrom("clusterid", "listClusters", "cluster", "id", "hypervisortype"),
            ),
            Field("url", "URL", required=True, validate=validate.url, placeholder="simulator://host-9"),
            Field("username", "Username", default="root"),
            Field("password", "Password", password=True),
        ),
        needs_item=False,
    ),
    Action("e", "Enable", "updateHost", lambda i: {"id": i["id"], "allocationstate": "Enable"}),
    Action("D", "Disable", "updateHost", lambda i: {"id": i["id"], "allocationstate": "Disable"}, confirm=True),
    Action("m", "Maintenance", "prepareHostForMaintenance", id_only, confirm=True),
    Action("M", "End maintenance", "cancelHostMaintenance", id_only, confirm=True),
    Action("c", "Reconnect", "reconnectHost", id_only, confirm=True),
    delete("deleteHost"),
)

register(
    Resource(
        "zone",
        "Zones",
        "listZones",
        "zone",
        lambda c: [
            col("name", "NAME", 18),
            state_col("allocationstate", "ALLOCATION"),
            col("networktype", "TYPE", 9),
            col("dns1", "DNS", 15),
            col("guestcidraddress", "GUEST CIDR", 16),
        ],
        ("zones", "dc"),
        (enable("updateZone"), disable("updateZone"), delete("deleteZone")),
        {},
    ),
    Resource(
        "pod",
        "Pods",
        "listPods",
        "pod",
        lambda c: [
            col("name", "NAME", 16),
            state_col("allocationstate", "ALLOCATION"),
            col("zonename", "ZONE", 14),
            col("gateway", "GATEWAY", 15),
            col("netmask", "NETMASK", 15),
        ],
        ("pods",),
        (enable("updatePod"), disable("updatePod"), delete("deletePod")),
        {},
    ),
    Resource(
        "cluster",
        "Clusters",
        "listClusters",
        "cluster",
        lambda c: [
            col("name", "NAME", 16),
            state_col("allocationstate", "ALLOCATION"),
            col("hypervisortype", "HYPERVISOR", 10),
            col("podname", "POD", 12),
            col("zonename", "ZONE", 14),
        ],
        ("clusters",),
        (enable("updateCluster"), disable("updateCluster"), delete("deleteCluster")),
        {},
    ),
    Resource(
        "host",
        "Hosts",
        "listHosts",
        "host",
        lambda c: [
            col("name", "NAME", 18),
            state_col(),
            state_col("resourcestate", "RESOURCE", 12),
            col("hypervisor", "HYPERVISOR", 10),
            col("ipaddress", "IP", 15),
            col("clustername", "CLUSTER", 12),
            col("cpunumber", "CPUS", 4),
            size_col("memorytotal", "MEMORY"),
            col("zonename", "ZONE", 10),
        ],
        ("hosts", "node", "nodes"),
        HOST_ACTIONS,
        {},
    ),
    Resource(
        "pool",
        "Primary storage",
        "listStoragePools",
        "storagepool",
        lambda c: [
            col("name", "NAME", 16),
            state_col(),
            col("type", "TYPE", 14),
            size_col("disksizetotal", "TOTAL"),
            size_col("disksizeused", "USED"),
            col("scope", "SCOPE", 8),
            col("zonename", "ZONE", 12),
        ],
        ("pools", "primary", "storagepool"),
        (delete("deleteStoragePool"),),
        {},
    ),
    Resource(
        "store",
        "Secondary storage",
        "listImageStores",
        "imagestore",
        lambda c: [
            col("name", "NAME", 16),
            col("protocol", "PROTOCOL", 8),
            col("providername", "PROVIDER", 8),
            col("url", "URL", 36),
            col("zonename", "ZONE", 12),
        ],
        ("stores", "secondary", "imagestore"),
        (delete("deleteImageStore"),),
        {},
    ),
    Resource(
        "pnet",
        "Physical networks",
        "listPhysicalNetworks",
        "physicalnetwork",
        lambda c: [
            col("name", "NAME", 18),
            state_col(),
            col("isolationmethods", "ISOLATION", 10),
            col("vlan", "VLAN", 12),
            Column("ZONE", 12, lambda i: (str(i.get("zonename") or i.get("zoneid", ""))[:12], "")),
        ],
        ("physnet", "physicalnetwork"),
        (delete("deletePhysicalNetwork"),),
        {},
    ),
    Resource(
        "vlan",
        "Public IP ranges",
        "listVlanIpRanges",
        "vlaniprange",
        lambda c: [
            col("startip", "START", 15),
            col("endip", "END", 15),
            col("gateway", "GATEWAY", 15),
            col("netmask", "NETMASK", 15),
            col("vlan", "VLAN", 10),
            col("zonename", "ZONE", 12),
        ],
        ("vlans", "iprange", "ranges"),
        (delete("deleteVlanIpRange"),),
        {},
    ),
)
