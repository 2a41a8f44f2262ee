"""virga demo --real: a zone on this machine's libvirt, the tiny guest as default template, 2 real guests."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from virga.appliance.storage.localnfs import LocalNfs
from virga.cli import guestimage
from virga.cli.datacenter import Say, deploy
from virga.cli.demo import ostype
from virga.cli.real.teardown import teardown
from virga.client import VirgaClient
from virga.config import data_dir
from virga.jobs.undo import UndoStack

ZONE = "sandbox-kvm"
TEMPLATE = "virga-tiny"
NETWORK = "demo-real-net"
OFFERING = "Small Instance"
READY_TIMEOUT = 900.0


class DemoError(RuntimeError):
    """A step of the real demo failed (the text says which and what is left)."""


def tag() -> str:
    """A short tag of the data directory, so sandboxes of different data dirs share no host-wide name."""
    return hashlib.sha1(str(data_dir()).encode()).hexdigest()[:8]


def public_bridge() -> str:
    """The zone's public bridge (one per data directory)."""
    return f"vpd{tag()}"


def zone_desc(primary: Path, secondary_url: str) -> dict[str, Any]:
    """The zone: this machine's libvirt as one KVM host, a local directory pool, the NFS store, netns routers."""
    return {
        "zones": [
            {
                "name": ZONE,
                "networktype": "Advanced",
                "dns1": "9.9.9.9",
                "internaldns1": "10.0.0.2",
                "guestcidraddress": "10.1.0.0/16",
                "details": {"router": "netns", "public_bridge": public_bridge()},
                "physical_networks": [{"name": "physnet-1", "traffictypes": ["Guest", "Public", "Management"]}],
                "ipranges": [
                    {
                        "gateway": "203.0.113.1",
                        "netmask": "255.255.255.0",
                        "startip": "203.0.113.10",
                        "endip": "203.0.113.250",
                    }
                ],
                "pods": [
                    {
                        "name": "pod-1",
                        "gateway": "172.16.1.1",
                        "netmask": "255.255.255.0",
                        "startip": "172.16.1.10",
                        "endip": "172.16.1.200",
                        "clusters": [
                            {
                                "name": "cluster-1",
                                "hypervisor": "KVM",
                                "hosts": [{"url": "qemu:///system"}],
                                "primary_storage": [{"name": f"primary-{tag()}", "url": f"file://{primary}"}],
                            }
                        ],
                    }
                ],
                "secondary_storage": [{"name": "secondary", "url": secondary_url}],
            }
        ]
    }


@contextmanager
def serve_dir(directory: Path) -> Iterator[str]:
    """A loopback HTTP server for one directory (for the template's download); yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    """A static file handler that does not log every request."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Stay quiet."""


async def _one(c: VirgaClient, cmd: str, item: str, **params: Any) -> dict[str, Any] | None:
    """The first object a list command finds, or None."""
    found = await c.list(cmd, item, **params)
    return found[0] if found else None


async def ensure_storage(say: Say, undo: UndoStack, fresh_zone: bool) -> str:
    """The NFS export for secondary storage under the data dir (started when not running); its URL."""
    nfs = LocalNfs(data_dir() / "nfs")
    url, started = await nfs.ensure(data_dir() / "secondary")
    say(f"secondary storage {url} ({'started' if started else 'running'})")
    if started and fresh_zone:
        undo.push("stop the NFS server", nfs.stop)
    return url


async def ensure_zone(c: VirgaClient, say: Say, undo: UndoStack) -> str:
    """The demo zone's id, built on this machine's libvirt when missing."""
    zone = await _one(c, "listZones", "zone", name=ZONE)
    nfs_url = await ensure_storage(say, undo, fresh_zone=zone is None)
    if zone:
        say(f"zone {ZONE} exists: reusing it")
        return str(zone["id"])
    primary = data_dir() / "primary"
    primary.mkdir(parents=True, exist_ok=True)
    os.chmod(primary, 0o755)
    try:
        (zone_id,) = await deploy(c, zone_desc(primary, nfs_url), say)
    except BaseException:
        await _drop_partial_zone(c, undo)
        raise
    undo.push(f"remove zone {ZONE}", lambda: _teardown_or_raise(c, zone_id, say))
    return zone_id


async def _drop_partial_zone(c: VirgaClient, undo: UndoStack) -> None:
    """Remove what a failed deploy made of the zone (it has no undo step yet)."""
    zone = await _one(c, "listZones", "zone", name=ZONE)
    if zone:
        undo.push(f"remove the partial zone {ZONE}", lambda: _teardown_or_raise(c, str(zone["id"]), print))


async def _teardown_or_raise(c: VirgaClient, zone_id: str, say: Say) -> None:
    """Remove a zone with everything in it; raise DemoError naming what stays."""
    left = await teardown(c, zone_id, say)
    if left:
        raise DemoError("; ".join(left))


async def ensure_template(c: VirgaClient, zone: str, say: Say, undo: UndoStack) -> str:
    """The tiny guest template's id: registered from a loopback HTTP server, featured, and ready."""
    found = await _one(c, "listTemplates", "template", templatefilter="all", name=TEMPLATE, zoneid=zone)
    if found and found.get("isready"):
        say(f"template {TEMPLATE} ready: reusing it")
        return str(found["id"])
    if found:
        say(f"template {TEMPLATE} was not ready ({found.get('status')}): registering it again")
        await c.run("deleteTemplate", id=found["id"], zoneid=zone)
    image = await asyncio.to_thread(guestimage.ensure)
    with serve_dir(image.parent) as base:
        tmpl = (
            await c.call(
                "registerTemplate",
                name=TEMPLATE,
                displaytext="virga tiny guest",
                format="QCOW2",
                hypervisor="KVM",
                url=f"{base}/{image.name}",
                zoneid=zone,
                ostypeid=await ostype(c),
                ispublic=True,
                isfeatured=True,
                passwordenabled=False,
            )
        )["template"][0]
        undo.push(f"delete template {TEMPLATE}", lambda: c.run("deleteTemplate", id=tmpl["id"]))
        await wait_ready(c, str(tmpl["id"]))
    say(f"template {TEMPLATE} ready (from {image})")
    return str(tmpl["id"])


async def wait_ready(c: VirgaClient, tmpl_id: str, timeout: float = READY_TIMEOUT) -> None:
    """Wait until a template is ready; raise DemoError when its download fails or takes too long."""
    loop = asyncio.get_running_loop()
    end, status = loop.time() + timeout, ""
    while loop.time() < end:
        t = await _one(c, "listTemplates", "template", templatefilter="all", id=tmpl_id)
        status = str((t or {}).get("status", "not listed"))
        if t and t.get("isready"):
            return
        if "fail" in status.lower() or "error" in status.lower():
            raise DemoError(f"the {TEMPLATE} template's download failed: {status}")
        await asyncio.sleep(0.5)
    raise DemoError(f"the {TEMPLATE} template was not ready within {timeout:g}s (status: {status})")


async def ensure_network(c: VirgaClient, zone: str, say: Say, undo: UndoStack) -> str:
    """The isolated demo network's id (created when missing)."""
    found = await _one(c, "listNetworks", "network", name=NETWORK, zoneid=zone, listall=True)
    if found:
        say(f"network {NETWORK} exists: reusing it")
        return str(found["id"])
    off = await _one(
        c, "listNetworkOfferings", "networkoffering", name="DefaultIsolatedNetworkOfferingWithSourceNatService"
    )
    if off is None:
        raise DemoError("the network offering DefaultIsolatedNetworkOfferingWithSourceNatService is missing")
    net = (
        await c.call(
            "createNetwork",
            name=NETWORK,
            displaytext="virga demo network",
            zoneid=zone,
            networkofferingid=off["id"],
            gateway="10.1.1.1",
            netmask="255.255.255.0",
        )
    )["network"]
    undo.push(f"delete network {NETWORK}", lambda: c.run("deleteNetwork", id=net["id"]))
    say(f"network {NETWORK} 10.1.1.0/24")
    return str(net["id"])


async def ensure_vm(c: VirgaClient, name: str, ids: dict[str, str], say: Say, undo: UndoStack) -> dict[str, Any]:
    """A running guest called name: started when stopped, deployed when missing."""
    vm = await _one(c, "listVirtualMachines", "virtualmachine", name=name, zoneid=ids["zone"], listall=True)
    if vm and vm["state"] == "Running":
        say(f"vm {name} running: reusing it")
        return vm
    if vm and vm["state"] == "Stopped":
        vm = (await c.run("startVirtualMachine", id=vm["id"]))["virtualmachine"]
        say(f"vm {name} started")
        return vm
    if vm:
        raise DemoError(f"vm {name} is {vm['state']}: wait for it, or remove it (virga demo --real --destroy)")
    small = await _one(c, "listServiceOfferings", "serviceoffering", name=OFFERING)
    if small is None:
        raise DemoError(f"the service offering {OFFERING!r} is missing")
    vm = (
        await c.run(
            "deployVirtualMachine",
            zoneid=ids["zone"],
            templateid=ids["template"],
            name=name,
            serviceofferingid=small["id"],
            networkids=ids["network"],
        )
    )["virtualmachine"]
    undo.push(f"destroy vm {name}", lambda: c.run("destroyVirtualMachine", id=vm["id"], expunge=True))
    say(f"vm {name} {vm['state']} {vm['nic'][0].get('ipaddress', '')}")
    return vm


async def build_real(c: VirgaClient, say: Say = print, vms: int = 2) -> dict[str, Any]:
    """Build (or reuse) the zone, template, network and guests; undo this run's steps when one fails."""
    undo = UndoStack()
    try:
        ids = {"zone": await ensure_zone(c, say, undo)}
        ids["template"] = await ensure_template(c, ids["zone"], say, undo)
        ids["network"] = await ensure_network(c, ids["zone"], say, undo)
        guests = [await ensure_vm(c, f"demo-real-{i}", ids, say, undo) for i in range(1, vms + 1)]
    except BaseException as exc:
        say(f"virga demo --real failed: {exc}; undoing this run's steps")
        await undo.unwind()
        if undo.failures:
            say("left behind (remove with `virga demo --real --destroy`): " + "; ".join(undo.failures))
        raise
    undo.commit()
    _summary(say, guests)
    return {**ids, "vms": [g["id"] for g in guests]}


def _summary(say: Say, guests: list[dict[str, Any]]) -> None:
    """What was built and how to reach the guests' consoles."""
    say(f"\nzone {ZONE} on this machine's libvirt (qemu:///system), template {TEMPLATE}, network {NETWORK}:")
    for g in guests:
        say(f"  {g['name']:14} {g['state']:8} {(g.get('nic') or [{}])[0].get('ipaddress', '')}")
    say("see a guest's serial console:  " + "   ".join(f"virga console {g['name']}" for g in guests))
    say("remove everything:             virga demo --real --destroy")
