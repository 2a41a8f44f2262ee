"""deploy-datacenter: build zones from a YAML/JSON description through the API (like Marvin's configs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from virga.client import VirgaClient

Say = Any


def load(path: str | Path) -> dict[str, Any]:
    """Read a datacenter description (YAML or JSON)."""
    text = Path(path).read_text()
    data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    if not isinstance(data, dict) or not isinstance(data.get("zones"), list):
        raise SystemExit(f"virga: {path}: expected a mapping with a 'zones' list")
    return data


async def deploy(client: VirgaClient, desc: dict[str, Any], say: Say = print) -> list[str]:
    """Create every zone of a description; return the zone ids."""
    return [await _zone(client, z, say) for z in desc["zones"]]


async def _zone(c: VirgaClient, z: dict[str, Any], say: Say) -> str:
    """One zone with its physical networks, public ranges, pods and secondary storage; enabled last."""
    details = [{"key": k, "value": v} for k, v in (z.get("details") or {}).items()]
    zone = (
        await c.call(
            "createZone",
            name=z["name"],
            networktype=z.get("networktype", "Advanced"),
            dns1=z.get("dns1", "8.8.8.8"),
            internaldns1=z.get("internaldns1", z.get("dns1", "8.8.8.8")),
            guestcidraddress=z.get("guestcidraddress"),
            domain=z.get("domain"),
            details=details or None,
        )
    )["zone"]
    say(f"zone {zone['name']} {zone['id']}")
    for pn in z.get("physical_networks", [{"name": f"{z['name']}-physnet"}]):
        await _physnet(c, zone["id"], pn, say)
    for r in z.get("ipranges", []):
        await c.call(
            "createVlanIpRange",
            zoneid=zone["id"],
            forvirtualnetwork=True,
            vlan=r.get("vlan", "untagged"),
            gateway=r["gateway"],
            netmask=r["netmask"],
            startip=r["startip"],
            endip=r["endip"],
        )
        say(f"  public range {r['startip']}-{r['endip']}")
    for pod in z.get("pods", []):
        await _pod(c, zone["id"], pod, say)
    for store in z.get("secondary_storage", []):
        await c.call(
            "addImageStore",
            name=store.get("name"),
            provider=store.get("provider", "NFS"),
            url=store["url"],
            zoneid=zone["id"],
        )
        say(f"  image store {store['url']}")
    await c.call("updateZone", id=zone["id"], allocationstate="Enabled")
    return str(zone["id"])


async def _physnet(c: VirgaClient, zone_id: str, pn: dict[str, Any], say: Say) -> None:
    """A physical network with its traffic types, enabled with its virtual router provider."""
    net = await c.run(
        "createPhysicalNetwork",
        zoneid=zone_id,
        name=pn["name"],
        isolationmethods=pn.get("isolationmethods", "VXLAN"),
        vlan=pn.get("vlan"),
    )
    net = net.get("physicalnetwork", net)
    for tt in pn.get("traffictypes", ["Guest", "Public", "Management"]):
        await c.run("addTrafficType", physicalnetworkid=net["id"], traffictype=tt)
    await c.run("updatePhysicalNetwork", id=net["id"], state="Enabled")
    for prov in await c.list("listNetworkServiceProviders", "networkserviceprovider", physicalnetworkid=net["id"]):
        if prov.get("state") == "Enabled":
            continue
        if prov.get("name") == "VirtualRouter":
            for el in await c.list("listVirtualRouterElements", "virtualrouterelement", nspid=prov["id"]):
                await c.run("configureVirtualRouterElement", id=el["id"], enabled=True)
        await c.run("updateNetworkServiceProvider", id=prov["id"], state="Enabled")
    say(f"  physical network {pn['name']}")


async def _pod(c: VirgaClient, zone_id: str, p: dict[str, Any], say: Say) -> None:
    """A pod, its clusters, their hosts and primary storage."""
    pod = (
        await c.call(
            "createPod",
            zoneid=zone_id,
            name=p["name"],
            gateway=p.get("gateway"),
            netmask=p.get("netmask"),
            startip=p.get("startip"),
            endip=p.get("endip"),
        )
    )["pod"]
    say(f"  pod {pod['name']}")
    for cl in p.get("clusters", []):
        cluster = (
            await c.call(
                "addCluster",
                zoneid=zone_id,
                podid=pod["id"],
                clustername=cl["name"],
                hypervisor=cl.get("hypervisor", "Simulator"),
                clustertype="CloudManaged",
            )
        )["cluster"][0]
        say(f"    cluster {cluster['name']} ({cluster['hypervisortype']})")
        for h in cl.get("hosts", []):
            host = (
                await c.call(
                    "addHost",
                    zoneid=zone_id,
                    podid=pod["id"],
                    clusterid=cluster["id"],
                    hypervisor=cluster["hypervisortype"],
                    url=h["url"],
                    username=h.get("username"),
                    password=h.get("password"),
                    hosttags=h.get("hosttags"),
                )
            )["host"][0]
            say(
                f"      host {host['name']} {host['cpunumber']}x{host['cpuspeed']}MHz "
                f"{int(host['memorytotal']) // 2**30}GiB"
            )
        for ps in cl.get("primary_storage", []):
            await c.call(
                "createStoragePool",
                zoneid=zone_id,
                podid=pod["id"],
                clusterid=cluster["id"],
                name=ps["name"],
                url=ps["url"],
                scope=ps.get("scope", "CLUSTER"),
                tags=ps.get("tags"),
            )
            say(f"      primary storage {ps['name']}")
