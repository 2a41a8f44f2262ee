"""End to end: two tiny TCG guests deployed through the API on libvirt behind a real virtual router.

They get their DHCP leases from the router, read their host name from its metadata service, and
serve HTTP through a port forward and a load balancer rule, reached from a public namespace.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import select
from virga.appliance.router.apply import RouterManager
from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.models import (
    Account,
    Network,
    PhysicalNetwork,
    PublicIpAddress,
    Template,
    VirtualMachine,
    VlanIpRange,
    Zone,
    utcnow,
)
from virga.services.ipam import int_to_ip, ip_to_int
from virga.services.routing import state_dir

from tests.api.netutil import ip, network, service_offering
from tests.libvirt.conftest import daemons, guest_image  # noqa: F401  (fixtures)
from tests.router.netkit import Lab, get, sh
from tests.storage.kvmzone import build, libvirt_pool

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PUBGW = "203.0.113.1"
BOOT_S = 600.0  # TCG guests on a loaded 2-core machine


@dataclass
class KvmNet:
    """The zone, its public bridge (root namespace, where libvirt's taps are) and the public namespace."""

    zone: str
    template: str
    public_bridge: str
    pub: str


def _public_range(s, zone: Zone) -> None:  # noqa: ANN001
    """A public range 203.0.113.10-19 on a physical network of the zone."""
    pn = PhysicalNetwork(name="physnet-k", zone_id=zone.id or 0, state="Enabled")
    s.add(pn)
    s.flush()
    rng = VlanIpRange(
        zone_id=zone.id or 0,
        physicalnetwork_id=pn.id,
        gateway=PUBGW,
        netmask="255.255.255.0",
        startip="203.0.113.10",
        endip="203.0.113.19",
    )
    rng.start_int, rng.end_int = ip_to_int(rng.startip), ip_to_int(rng.endip)
    s.add(rng)
    s.flush()
    for value in range(rng.start_int, rng.end_int + 1):
        s.add(PublicIpAddress(ipaddress=int_to_ip(value), ip_int=value, vlan_id=rng.id or 0, zone_id=zone.id or 0))


def _template(s, zone: Zone, image: Path) -> str:  # noqa: ANN001
    """The tiny guest as a ready KVM template of the zone."""
    info = json.loads(
        subprocess.run(
            ["qemu-img", "info", "--output=json", str(image)], check=True, capture_output=True, text=True
        ).stdout
    )
    admin = s.exec(select(Account).where(Account.name == "admin")).one()
    tmpl = Template(
        name="virga-tiny",
        displaytext="tiny guest",
        hypervisor="KVM",
        format="QCOW2",
        url=f"file://{image}",
        install_path=f"file://{image}",
        isready=True,
        status="Download Complete",
        size=int(info["virtual-size"]),
        zone_id=zone.id,
        ispublic=True,
        account_id=admin.id or 0,
        domain_id=admin.domain_id,
    )
    s.add(tmpl)
    s.flush()
    return tmpl.uuid


@pytest.fixture
def kvmnet(app: VirgaApp, guest_image: Path, lab: Lab) -> Iterator[KvmNet]:  # noqa: F811
    """A KVM zone on qemu:///system with netns routers whose bridges live in the root namespace."""
    bridge = f"vpe{uuid.uuid4().hex[:8]}"
    sh(["ip", "link", "add", bridge, "type", "bridge"])
    try:
        sh(["ip", "link", "set", bridge, "up"])
        pub = lab.ns("pub")
        lab.plug(None, bridge, pub, addr=f"{PUBGW}/24")  # type: ignore[arg-type]
        with libvirt_pool() as (pool_name, pool_path):
            kz = build(app, "nfs://127.0.0.1/unused", pool_name, pool_path)
            with app.db.session() as s:
                zone = s.get(Zone, kz.zone_id)
                assert zone is not None
                zone.details = {"router": "netns", "public_bridge": bridge}
                zone.dns1 = zone.dns2 = ""
                s.add(zone)
                _public_range(s, zone)
                tid = _template(s, zone, guest_image)
                s.commit()
            try:
                yield KvmNet(kz.zone, tid, bridge, pub)
            finally:
                _drop_domains(app)
                mgr = RouterManager(state_dir(app))
                for uuid_ in mgr.list_routers():
                    mgr.destroy_sync(uuid_)
                mgr.hub.stop()
    finally:
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)


def _drop_domains(app: VirgaApp) -> None:
    """Destroy and undefine the libvirt domains of this database's VMs (a failed test leaves them running)."""
    with app.db.session() as s:
        names = [vm.instancename for vm in s.exec(select(VirtualMachine)) if vm.instancename]
    for name in names:
        for verb in ("destroy", "undefine"):
            subprocess.run(["virsh", "-c", "qemu:///system", verb, name], capture_output=True)


def _bump_network_ids(app: VirgaApp, zone: str) -> None:
    """Guest bridges are named after network ids (vg00001...) in the root namespace, which other test
    runs share: start this database's ids at a random offset (a removed placeholder row)."""
    with app.db.session() as s:
        z = s.exec(select(Zone).where(Zone.uuid == zone)).one()
        first = s.exec(select(Network).where(Network.zone_id == z.id)).first()
        assert first is not None
        data = first.model_dump(exclude={"id", "uuid", "removed", "name"})
        s.add(
            Network(
                **data, id=10000 + uuid.uuid4().int % 80000, uuid=str(uuid.uuid4()), name="offset", removed=utcnow()
            )
        )
        s.commit()


async def _until_http(ns: str, url: str, want: str) -> str:
    """GET until the body is `want` (a booting guest first refuses or times out)."""
    loop = asyncio.get_running_loop()
    end, last = loop.time() + BOOT_S, (0, "")
    while loop.time() < end:
        last = await asyncio.to_thread(get, ns, url, None, 3)
        if last == (0, want):
            return want
        await asyncio.sleep(2)
    raise AssertionError(f"{url} from {ns} never answered {want!r}; last answer {last}")


USERDATA = (
    "#!/bin/sh\nmkdir -p /var/www\ntimeout 5 wget -q -O /var/www/md http://10.1.1.1/latest/meta-data/local-hostname\n"
)


async def test_tcg_guests_behind_the_router(app: VirgaApp, admin: VirgaClient, kvmnet: KvmNet) -> None:
    from tests.factories import Cloud

    cloud = Cloud(zone=kvmnet.zone, pod="", cluster="", hosts=[], pool="", template=kvmnet.template)
    scratch = await network(admin, app, cloud, "scratch", gateway="10.250.0.1", netmask="255.255.255.0")
    _bump_network_ids(app, kvmnet.zone)
    await admin.call("deleteNetwork", id=scratch["id"])
    net = await network(admin, app, cloud, "tcg", gateway="10.1.1.1", netmask="255.255.255.0")
    userdata = base64.b64encode(USERDATA.encode()).decode()
    vms = [
        (
            await admin.run(
                "deployVirtualMachine",
                zoneid=kvmnet.zone,
                templateid=kvmnet.template,
                serviceofferingid=service_offering(app),
                networkids=net["id"],
                name=name,
                userdata=userdata,
            )
        )["virtualmachine"]
        for name in ("tcg-a", "tcg-b")
    ]
    assert all(v["state"] == "Running" for v in vms)

    pf_ip, lb_ip = await ip(admin, net["id"]), await ip(admin, net["id"])
    await admin.run(
        "createPortForwardingRule",
        ipaddressid=pf_ip["id"],
        privateport=80,
        publicport=8080,
        protocol="tcp",
        virtualmachineid=vms[0]["id"],
    )
    lb = (
        await admin.run(
            "createLoadBalancerRule",
            publicipid=lb_ip["id"],
            name="web",
            algorithm="roundrobin",
            privateport=80,
            publicport=80,
        )
    )["loadbalancer"]
    await admin.run("assignToLoadBalancerRule", id=lb["id"], virtualmachineids=",".join(v["id"] for v in vms))

    base = f"http://{pf_ip['ipaddress']}:8080"
    await _until_http(kvmnet.pub, f"{base}/", "tcg-a\n")  # DHCP lease with its name, httpd up, port forward
    await _until_http(kvmnet.pub, f"{base}/md", "tcg-a")  # the name read from the metadata service
    rdir = state_dir(app) / net["id"]
    leases = (rdir / "dhcp-hosts").read_text()
    assert all(v["nic"][0]["macaddress"] in leases and v["nic"][0]["ipaddress"] in leases for v in vms)
    seen: set[str] = set()
    for _ in range(40):
        rc, body = await asyncio.to_thread(get, kvmnet.pub, f"http://{lb_ip['ipaddress']}/", None, 3)
        if rc == 0:
            seen.add(body.strip())
        if seen == {"tcg-a", "tcg-b"}:
            break
        await asyncio.sleep(1 if rc else 0)
    assert seen == {"tcg-a", "tcg-b"}  # the load balancer reaches both guests

    for v in vms:
        await admin.run("destroyVirtualMachine", id=v["id"], expunge=True)
    await admin.run("deleteNetwork", id=net["id"])
    assert not rdir.exists()
