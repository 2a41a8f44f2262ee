"""Fixtures of the router tests: a lab of namespaces and a RouterManager confined to it."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator

import pytest
from virga.appliance.router.apply import RouterManager

from tests.router.netkit import Lab, need

_counter = itertools.count()


def _tag() -> str:
    """A short, run-unique tag: pid-based, so parallel runs never collide."""
    return f"{os.getpid() % 100000:05d}{next(_counter):02d}"


@pytest.fixture
def tag() -> str:
    """A unique short id for this test."""
    return _tag()


@pytest.fixture
def lab(tmp_path, tag) -> Iterator[Lab]:
    """Namespaces and processes of one test, removed even on failure."""
    need(os.geteuid() == 0, "router tests need root (network namespaces)")
    for tool in ("ip", "nft", "dnsmasq", "haproxy", "busybox"):
        apt = "iproute2 nftables dnsmasq-base haproxy busybox-static"
        need(shutil.which(tool) is not None, f"{tool} not installed (apt: {apt})")
    box = Lab(tmp_path, f"vt{tag}-")
    yield box
    box.cleanup()


@pytest.fixture
def manager_factory(tmp_path) -> Iterator:
    """Build RouterManagers whose routers are all destroyed at teardown."""
    made: list[RouterManager] = []

    def make(host_netns: str | None, name: str = "state") -> RouterManager:
        mgr = RouterManager(tmp_path / name, host_netns=host_netns)
        made.append(mgr)
        return mgr

    yield make
    for mgr in made:
        for uuid in mgr.list_routers():
            mgr.destroy_sync(uuid)
        mgr.hub.stop()
