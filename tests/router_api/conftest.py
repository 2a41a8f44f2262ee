"""Fixtures: a netns zone (router=netns, bridges in a test-made host namespace) beside the simulator cloud."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlmodel import select
from virga.appliance.router.apply import RouterManager
from virga.core import VirgaApp
from virga.models import Zone
from virga.services.routing import state_dir

from tests.factories import Cloud
from tests.router.netkit import Lab, need

PUBLIC_BRIDGE = "vpub0"
PUBLIC_GW = "198.51.100.1"
_counter = itertools.count()


@dataclass
class NetZone:
    """The simulator cloud turned netns, its host namespace, the public namespace and the lab."""

    cloud: Cloud
    host: str
    pub: str
    lab: Lab


@pytest.fixture
def lab(tmp_path) -> Iterator[Lab]:
    """Namespaces and processes of one test (unique names), removed even on failure."""
    need(os.geteuid() == 0, "router API tests need root (network namespaces)")
    for tool in ("ip", "nft", "dnsmasq", "haproxy", "busybox"):
        need(
            shutil.which(tool) is not None,
            f"{tool} not installed (apt: iproute2 nftables dnsmasq-base haproxy busybox-static)",
        )
    box = Lab(tmp_path, f"va{os.getpid() % 100000:05d}{next(_counter):02d}-")
    yield box
    box.cleanup()


@pytest.fixture
def netzone(app: VirgaApp, cloud: Cloud, lab: Lab) -> Iterator[NetZone]:
    """Switch the cloud's zone to real routers whose bridges live in a namespace this test owns."""
    host, pub = lab.ns("host"), lab.ns("pub")
    lab.bridge(host, PUBLIC_BRIDGE)
    lab.plug(host, PUBLIC_BRIDGE, pub, addr=f"{PUBLIC_GW}/24")
    with app.db.session() as s:
        zone = s.exec(select(Zone).where(Zone.uuid == cloud.zone)).one()
        zone.details = {"router": "netns", "host_netns": host, "public_bridge": PUBLIC_BRIDGE}
        zone.dns1 = zone.dns2 = ""
        s.add(zone)
        s.commit()
    yield NetZone(cloud, host, pub, lab)
    mgr = RouterManager(state_dir(app), host_netns=host)
    for uuid in mgr.list_routers():
        mgr.destroy_sync(uuid)
    mgr.hub.stop()
