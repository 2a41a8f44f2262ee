"""Idempotent netlink work with pyroute2: namespaces, bridges, veth legs, addresses, VXLAN/VLAN."""

from __future__ import annotations

import fcntl
import socket
import struct
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pyroute2 import IPRoute, netns
from pyroute2.netlink.exceptions import NetlinkError
from virga.appliance.router.errors import ApplyError
from virga.appliance.router.nsenter import netns as entered
from virga.appliance.router.nsenter import netns_id, write_sysctl
from virga.appliance.router.procs import run

_CACHE = threading.local()


def _open(ns: str | None) -> IPRoute:
    """A new IPRoute socket in namespace ns (None: the current one).

    The socket is opened after setns(2) in this thread rather than with IPRoute(netns=...), which
    forks a helper process and stops it with SIGTERM: a parent with Python signal handlers
    (uvicorn, the router supervisor) would see that signal itself and the helper would not die.
    """
    with entered(ns):
        return IPRoute()


@contextmanager
def session() -> Iterator[None]:
    """Within the body, this thread reuses one netlink socket per namespace (opening one costs milliseconds)."""
    if getattr(_CACHE, "sockets", None) is not None:
        yield
        return
    _CACHE.sockets = {}
    try:
        yield
    finally:
        sockets, _CACHE.sockets = _CACHE.sockets, None
        for sock in sockets.values():
            sock.close()


@contextmanager
def ipr(ns: str | None) -> Iterator[IPRoute]:
    """An IPRoute socket in namespace ns: the session's shared one, else a fresh one closed afterwards."""
    sockets = getattr(_CACHE, "sockets", None)
    if sockets is None:
        with _open(ns) as ip:
            yield ip
        return
    if ns not in sockets:
        sockets[ns] = _open(ns)
    yield sockets[ns]


def forget(ns: str) -> None:
    """Drop the session's socket of a namespace that is being removed."""
    sockets = getattr(_CACHE, "sockets", None)
    if sockets and ns in sockets:
        sockets.pop(ns).close()


SIOCGIFFLAGS = 0x8913
IFF_UP = 0x1


def _is_up(sock: socket.socket, name: str) -> bool:
    """Whether a link of the socket's namespace exists and is administratively up (SIOCGIFFLAGS)."""
    try:
        res = fcntl.ioctl(sock, SIOCGIFFLAGS, struct.pack("16sH22x", name.encode(), 0))
    except OSError:
        return False
    return bool(struct.unpack("16sH22x", res)[1] & IFF_UP)


def links_up(ns: str | None, names: list[str]) -> bool:
    """Whether every named link of namespace ns exists and is up: setns + ioctl, no netlink socket."""
    try:
        with entered(ns), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            return all(_is_up(sock, name) for name in names)
    except ApplyError:
        return False


def ensure_netns(name: str) -> bool:
    """Create a named namespace with lo up; return whether it was created."""
    if netns_id(name) is not None:
        return False
    netns.create(name)
    with ipr(name) as ip:
        ip.link("set", index=ip.link_lookup(ifname="lo")[0], state="up")
    return True


def remove_netns(name: str) -> bool:
    """Delete a named namespace; return whether it existed."""
    if netns_id(name) is None:
        return False
    forget(name)
    netns.remove(name)
    return True


def _index(ip: IPRoute, name: str) -> int | None:
    """The index of a link, or None."""
    found = ip.link_lookup(ifname=name)
    return found[0] if found else None


def ensure_bridge(host_ns: str | None, name: str) -> bool:
    """Create (if missing) and bring up a bridge; return whether it was created."""
    with ipr(host_ns) as ip:
        created = _index(ip, name) is None
        if created:
            ip.link("add", ifname=name, kind="bridge")
        ip.link("set", index=_index(ip, name), state="up")
    return created


def bridge_ports(host_ns: str | None, bridge: str) -> list[str]:
    """Names of the links enslaved to a bridge."""
    with ipr(host_ns) as ip:
        br = _index(ip, bridge)
        if br is None:
            return []
        return [link.get("ifname") for link in ip.get_links() if link.get("master") == br]


def delete_link(ns: str | None, name: str) -> bool:
    """Delete a link if present; return whether it existed."""
    with ipr(ns) as ip:
        idx = _index(ip, name)
        if idx is None:
            return False
        ip.link("del", index=idx)
    return True


def ensure_leg(host_ns: str | None, bridge: str, leg: dict[str, Any], router_ns: str) -> bool:
    """A veth whose host leg is in the bridge and whose other leg sits in the router namespace,
    both ends with their fixed MACs; leg is a side of the link plan. Return whether it was created."""
    created = False
    host_leg, router_leg = leg["host_leg"], leg["router_leg"]
    with ipr(router_ns) as rip:
        have_router_leg = _index(rip, router_leg) is not None
    with ipr(host_ns) as ip:
        if _index(ip, host_leg) is not None and not have_router_leg:
            ip.link("del", index=_index(ip, host_leg))
        if _index(ip, host_leg) is None:
            ip.link(
                "add",
                ifname=host_leg,
                kind="veth",
                address=leg["host_mac"],
                peer={"ifname": router_leg, "net_ns_fd": router_ns, "address": leg["router_mac"]},
            )
            created = True
        idx, br = _index(ip, host_leg), _index(ip, bridge)
        _ensure_mac(ip, idx, leg["host_mac"])
        link = ip.get_links(idx)[0]
        if link.get("master") != br or link.get("state") != "up":
            ip.link("set", index=idx, master=br, state="up")
    with ipr(router_ns) as rip:
        idx = _index(rip, router_leg)
        _ensure_mac(rip, idx, leg["router_mac"])
        rip.link("set", index=idx, state="up")
    return created


def _ensure_mac(ip: IPRoute, idx: int | None, mac: str) -> None:
    """Give a link its fixed MAC (a leg made before MACs were fixed gets it on the next apply)."""
    if idx is not None and ip.get_links(idx)[0].get("address") != mac:
        ip.link("set", index=idx, address=mac)


def sync_addresses(router_ns: str, ifname: str, wanted: list[str]) -> list[str]:
    """Make an interface hold exactly the wanted `addr/prefix` IPv4 addresses; return the changes."""
    changes = []
    with ipr(router_ns) as ip:
        idx = _index(ip, ifname)
        have = {f"{a.get('address')}/{a.get('prefixlen')}" for a in ip.get_addr(index=idx, family=2)}
        for cidr in sorted(set(wanted) - have):
            addr, prefix = cidr.split("/")
            ip.addr("add", index=idx, address=addr, prefixlen=int(prefix))
            changes.append(f"+{cidr}")
        for cidr in sorted(have - set(wanted)):
            addr, prefix = cidr.split("/")
            ip.addr("del", index=idx, address=addr, prefixlen=int(prefix))
            changes.append(f"-{cidr}")
    return changes


def sync_default_route(router_ns: str, gateway: str | None) -> bool:
    """Point the router's default route at gateway (or remove it); return whether it changed."""
    with ipr(router_ns) as ip:
        routes = ip.get_routes(family=2, dst_len=0, table=254)
        current = next((r.get("gateway") for r in routes if r.get("dst_len") == 0), None)
        if current == gateway:
            return False
        if current is not None:
            ip.route("del", dst="0.0.0.0/0")
        if gateway is not None:
            try:
                ip.route("add", dst="0.0.0.0/0", gateway=gateway)
            except NetlinkError as exc:
                raise ApplyError(f"default route via {gateway}: {exc}") from exc
    return True


def enable_forwarding(router_ns: str, sysctls: dict[str, str]) -> list[str]:
    """Set the router's sysctls (ip_forward) inside its namespace only."""
    return [f"{key}={value}" for key, value in sorted(sysctls.items()) if write_sysctl(router_ns, key, value)]


def ensure_vxlan(host_ns: str | None, bridge: str, spec: dict[str, Any]) -> list[str]:
    """A VXLAN link in the bridge with one all-zero FDB entry per remote peer (head-end replication)."""
    changes = []
    with ipr(host_ns) as ip:
        if _index(ip, spec["name"]) is None:
            kwargs: dict[str, Any] = {
                "vxlan_id": spec["vni"],
                "vxlan_local": spec["local"],
                "vxlan_port": spec["port"],
                "vxlan_learning": 1,
            }
            if spec.get("underlay_dev"):
                kwargs["vxlan_link"] = _index(ip, spec["underlay_dev"])
            ip.link("add", ifname=spec["name"], kind="vxlan", **kwargs)
            changes.append(f"vxlan {spec['name']} created")
        ip.link("set", index=_index(ip, spec["name"]), master=_index(ip, bridge), state="up")
    fdb = run(["bridge", "fdb", "show", "dev", spec["name"]], netns=host_ns)
    have = {
        line.split(" dst ")[1].split()[0]
        for line in fdb.splitlines()
        if line.startswith("00:00:00:00:00:00") and " dst " in line
    }
    for remote in spec["remotes"]:
        if remote not in have:
            run(["bridge", "fdb", "append", "00:00:00:00:00:00", "dev", spec["name"], "dst", remote], netns=host_ns)
            changes.append(f"vxlan peer {remote}")
    return changes


def ensure_vlan(host_ns: str | None, bridge: str, spec: dict[str, Any]) -> list[str]:
    """An 802.1Q link on the parent device, enslaved to the guest bridge."""
    with ipr(host_ns) as ip:
        if _index(ip, spec["name"]) is not None:
            return []
        parent = _index(ip, spec["parent"] or "")
        if parent is None:
            raise ApplyError(f"VLAN parent device {spec['parent']!r} not found")
        try:
            ip.link("add", ifname=spec["name"], kind="vlan", link=parent, vlan_id=spec["id"])
        except NetlinkError as exc:
            raise ApplyError(f"cannot create VLAN {spec['id']} (kernel without 802.1Q?): {exc}") from exc
        ip.link("set", index=_index(ip, spec["name"]), master=_index(ip, bridge), state="up")
    return [f"vlan {spec['name']} created"]


def netns_pids(name: str) -> list[int]:
    """Pids of the processes living in a namespace (`ip netns pids`)."""
    out = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]
