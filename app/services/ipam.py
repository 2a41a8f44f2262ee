"""IP address management: guest NIC addresses, MAC addresses and public IPs."""

from __future__ import annotations

import ipaddress
import secrets

from sqlalchemy import bindparam
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select
from virga.errors import InsufficientCapacity, InvalidParameter
from virga.models import Network, Nic, PublicIpAddress, VlanIpRange
from virga.services.states import IpState


def ip_to_int(ip: str) -> int:
    """An IPv4 address as an integer."""
    return int(ipaddress.IPv4Address(ip))


def int_to_ip(value: int) -> str:
    """An integer as an IPv4 address."""
    return str(ipaddress.IPv4Address(value))


def guest_range(net: Network) -> tuple[int, int]:
    """First and last assignable guest addresses of a network (gateway excluded separately)."""
    if net.startip and net.endip:
        return ip_to_int(net.startip), ip_to_int(net.endip)
    cidr = ipaddress.IPv4Network(net.cidr, strict=False)
    return int(cidr.network_address) + 1, int(cidr.broadcast_address) - 1


# Built once: every deploy runs them (see virga.db.by_column).
IP_TAKEN = (
    select(Nic.id).where(Nic.network_id == bindparam("n"), Nic.ip_int == bindparam("v"), Nic.removed == None).limit(1)
)
NETWORKS = Network.__table__
NEXT_IP = NETWORKS.update().where(NETWORKS.c.id == bindparam("n")).values(next_ip=bindparam("v"))
MAC_TAKEN = (
    select(Nic.id)
    .where(Nic.network_id == bindparam("n"), Nic.macaddress == bindparam("v"), Nic.removed == None)
    .limit(1)
)


def _taken(s: Session, net: Network, value: int) -> bool:
    """Whether a guest address is in use on a network."""
    return s.connection().execute(IP_TAKEN, {"n": net.id, "v": value}).first() is not None


def allocate_guest_ip(s: Session, net: Network, requested: str | None = None) -> str:
    """Pick a free guest address (or check the requested one); 533 when the network is full."""
    first, last = guest_range(net)
    gateway = ip_to_int(net.gateway) if net.gateway else -1
    if requested:
        value = ip_to_int(requested)
        if not first <= value <= last or value == gateway:
            raise InvalidParameter(f"IP address {requested} is not in the range of network {net.name}")
        if _taken(s, net, value):
            raise InvalidParameter(f"IP address {requested} is already in use in network {net.name}")
        return requested
    size = last - first + 1
    start = net.next_ip if first <= net.next_ip <= last else first
    for step in range(size):
        value = first + (start - first + step) % size
        if value != gateway and not _taken(s, net, value):
            s.connection().execute(NEXT_IP, {"n": net.id, "v": value + 1})
            set_committed_value(net, "next_ip", value + 1)  # told, not dirtied: the UPDATE above wrote it
            return int_to_ip(value)
    raise InsufficientCapacity(f"Insufficient address capacity: network {net.name} has no free IP address")


def new_mac(s: Session, net: Network) -> str:
    """A locally administered MAC address unused on the network."""
    while True:
        tail = secrets.token_bytes(4)
        mac = "02:00:" + ":".join(f"{b:02x}" for b in tail)
        if s.connection().execute(MAC_TAKEN, {"n": net.id, "v": mac}).first() is None:
            return mac


def allocate_public_ip(s: Session, zone_id: int, requested: str | None = None) -> PublicIpAddress:
    """Take a free public IP of the zone's public ranges; 533 when none is left."""
    stmt = (
        select(PublicIpAddress)
        .join(VlanIpRange, col(VlanIpRange.id) == PublicIpAddress.vlan_id)
        .where(
            PublicIpAddress.zone_id == zone_id,
            PublicIpAddress.state == IpState.FREE,
            VlanIpRange.forvirtualnetwork == True,
            VlanIpRange.removed == None,
        )
    )  # noqa:E712
    if requested:
        stmt = stmt.where(PublicIpAddress.ipaddress == requested)
    ip = s.exec(stmt.order_by(col(PublicIpAddress.id)).limit(1)).first()
    if ip is None:
        if requested:
            raise InvalidParameter(f"Public IP {requested} is not free in this zone")
        raise InsufficientCapacity("Insufficient address capacity: no free public IP address is left in the zone")
    return ip
