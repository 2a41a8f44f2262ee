"""Removing the real demo: guests, networks, templates, then the zone's infrastructure, NFS server, bridge."""

from __future__ import annotations

import subprocess
from typing import Any

from virga.cli.datacenter import Say
from virga.client import ApiError, VirgaClient

# (list command, item, delete command, async, extra delete params) in removal order
STEPS: list[tuple[str, str, str, bool, dict[str, Any]]] = [
    ("listVirtualMachines", "virtualmachine", "destroyVirtualMachine", True, {"expunge": True}),
    ("listNetworks", "network", "deleteNetwork", True, {}),
    ("listTemplates", "template", "deleteTemplate", True, {}),
    ("listStoragePools", "storagepool", "deleteStoragePool", False, {}),
    ("listHosts", "host", "deleteHost", False, {"forced": True}),
    ("listClusters", "cluster", "deleteCluster", False, {}),
    ("listPods", "pod", "deletePod", False, {}),
    ("listImageStores", "imagestore", "deleteImageStore", False, {}),
    ("listVlanIpRanges", "vlan", "deleteVlanIpRange", False, {}),
    ("listPhysicalNetworks", "physicalnetwork", "deletePhysicalNetwork", True, {}),
]
LIST_EXTRA: dict[str, dict[str, Any]] = {
    "listTemplates": {"templatefilter": "all"},
    "listVirtualMachines": {"listall": True},
    "listNetworks": {"listall": True},
}


async def teardown(c: VirgaClient, zone_id: str, say: Say = print) -> list[str]:
    """Remove everything in a zone and the zone itself; return what could not be removed."""
    left: list[str] = []
    for list_cmd, item, delete, is_async, extra in STEPS:
        for obj in await c.list(list_cmd, item, zoneid=zone_id, **LIST_EXTRA.get(list_cmd, {})):
            label = f"{item} {obj.get('name') or obj.get('id')}"
            try:
                await (c.run if is_async else c.call)(delete, id=obj["id"], **extra)
                say(f"removed {label}")
            except ApiError as err:
                left.append(f"{label}: {err.text}")
    try:
        await c.call("deleteZone", id=zone_id)
        say("removed the zone")
    except ApiError as err:
        left.append(f"zone {zone_id}: {err.text}")
    return left


async def destroy_all(c: VirgaClient, say: Say = print) -> list[str]:
    """Remove the real demo's zone, stop its NFS server and delete its public bridge; return leftovers."""
    from virga.appliance.storage.localnfs import LocalNfs
    from virga.cli.real.build import ZONE, public_bridge
    from virga.config import data_dir

    left: list[str] = []
    for zone in await c.list("listZones", "zone", name=ZONE):
        left += await teardown(c, str(zone["id"]), say)
    await LocalNfs(data_dir() / "nfs").stop()  # deleteStoragePool above released the pool on the KVM host
    subprocess.run(["ip", "link", "del", public_bridge()], capture_output=True, check=False)
    if left:
        say("could not remove: " + "; ".join(left))
    else:
        say("the real demo is gone")
    return left
