"""Public and shared-network IP ranges: recording a range (with its free public IPs) and deleting it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert
from sqlmodel import col
from virga.context import Ctx
from virga.models import PublicIpAddress, VlanIpRange, new_uuid, utcnow
from virga.services.ipam import int_to_ip
from virga.services.states import IpState


def create_range(ctx: Ctx, fields: dict[str, Any]) -> VlanIpRange:
    """Record a validated range; a public one (forvirtualnetwork) gets one Free PublicIpAddress per address."""
    v = VlanIpRange(**fields)
    ctx.db.add(v)
    ctx.db.flush()
    if v.forvirtualnetwork:
        ctx.db.exec(
            insert(PublicIpAddress),
            params=[
                {
                    "uuid": new_uuid(),
                    "created": utcnow(),
                    "ipaddress": int_to_ip(i),
                    "ip_int": i,
                    "vlan_id": v.id,
                    "zone_id": v.zone_id,
                    "state": IpState.FREE.value,
                    "issourcenat": False,
                    "isstaticnat": False,
                }
                for i in range(v.start_int, v.end_int + 1)
            ],
        )
    return v


def delete_range(ctx: Ctx, v: VlanIpRange) -> dict[str, Any]:
    """Delete a range's (free) public IPs and mark the range removed."""
    ctx.db.exec(delete(PublicIpAddress).where(col(PublicIpAddress.vlan_id) == v.id))
    v.removed = utcnow()
    ctx.db.add(v)
    return {"success": True}
