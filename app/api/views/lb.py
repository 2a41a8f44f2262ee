"""The loadbalancer and healthcheckpolicies response objects."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from virga.api.response import clean
from virga.api.views.common import owner, ref
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.models import LoadBalancerRule, Network, PublicIpAddress, Zone
from virga.services.lb import HealthCheckPolicy

FIELDS.update(
    {
        "loadbalancer": "id name description publicipid publicip publicport privateport algorithm networkid cidrlist "
        "state zoneid zonename protocol tags fordisplay account domainid domain domainpath",
        "healthcheckpolicies": "lbruleid account domainid domain zoneid healthcheckpolicy",
        "loadbalancerruleinstance": FIELDS.get("virtualmachine", ""),
    }
)


def lb_view(ctx: Ctx, r: LoadBalancerRule) -> dict[str, Any]:
    """A loadbalancer response object."""
    ip = ctx.by_id(PublicIpAddress, r.ipaddress_id)
    net = ctx.by_id(Network, r.network_id)
    return clean(
        {
            "id": r.uuid,
            "name": r.name,
            "description": r.description or None,
            "publicipid": ip.uuid if ip else None,
            "publicip": ip.ipaddress if ip else None,
            "publicport": str(r.publicport),
            "privateport": str(r.privateport),
            "algorithm": r.algorithm,
            "networkid": net.uuid if net else None,
            "cidrlist": r.cidrlist,
            "state": r.state,
            **ref(ctx, Zone, net.zone_id if net else None, "zone"),
            "protocol": r.protocol,
            "tags": [],
            "fordisplay": True,
            **owner(ctx, r),
        }
    )


def hc_view(ctx: Ctx, r: LoadBalancerRule) -> dict[str, Any]:
    """A healthcheckpolicies response object."""
    hc = r.healthcheck or {}
    net = ctx.by_id(Network, r.network_id)
    policies = (
        [
            clean(
                {
                    "id": hc["id"],
                    "description": hc.get("description") or None,
                    "pingpath": hc.get("pingpath") or None,
                    "healthcheckinterval": hc.get("intervaltime"),
                    "responsetime": hc.get("responsetimeout"),
                    "healthcheckthresshold": hc.get("healthythreshold"),
                    "unhealthcheckthresshold": hc.get("unhealthythreshold"),
                    "state": "Active",
                    "fordisplay": True,
                }
            )
        ]
        if hc.get("id")
        else []
    )
    return clean(
        {
            "lbruleid": r.uuid,
            "zoneid": (
                ctx.by_id(Zone, net.zone_id).uuid  # type: ignore[union-attr]
                if net
                else None
            ),
            "healthcheckpolicy": policies,
            **owner(ctx, r),
        }
    )


def lb_views(ctx: Ctx, rows: list[LoadBalancerRule]) -> list[dict[str, Any]]:
    """Load balancer rules (job results)."""
    return [lb_view(ctx, r) for r in rows]


def hc_views(ctx: Ctx, rows: list[HealthCheckPolicy]) -> list[dict[str, Any]]:
    """The health check policies of load balancer rules (job results)."""
    return [
        hc_view(ctx, ctx.db.exec(select(LoadBalancerRule).where(LoadBalancerRule.uuid == p.rule_uuid)).one())
        for p in rows
    ]


RENDERERS = {LoadBalancerRule: ("loadbalancer", lb_views), HealthCheckPolicy: ("healthcheckpolicies", hc_views)}
