"""The firewallrule and portforwardingrule response objects."""

from __future__ import annotations

from typing import Any

from virga.api.response import clean
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.models import FirewallRule, Network, PortForwardingRule, PublicIpAddress, VirtualMachine

FIELDS.update(
    {
        "firewallrule": "id protocol startport endport ipaddressid ipaddress networkid state cidrlist destcidrlist "
        "icmptype icmpcode traffictype tags fordisplay",
        "portforwardingrule": "id privateport privateendport protocol publicport publicendport virtualmachineid "
        "virtualmachinename virtualmachinedisplayname ipaddressid ipaddress state cidrlist tags vmguestip networkid "
        "fordisplay",
    }
)


def fw_view(ctx: Ctx, r: FirewallRule) -> dict[str, Any]:
    """A firewallrule response object (ingress or egress)."""
    ip = ctx.by_id(PublicIpAddress, r.ipaddress_id)
    net = ctx.by_id(Network, r.network_id)
    return clean(
        {
            "id": r.uuid,
            "protocol": r.protocol,
            "startport": r.startport,
            "endport": r.endport,
            "ipaddressid": ip.uuid if ip else None,
            "ipaddress": ip.ipaddress if ip else None,
            "networkid": net.uuid if net else None,
            "state": r.state,
            "cidrlist": r.cidrlist,
            "destcidrlist": r.destcidrlist or None,
            "icmptype": r.icmptype,
            "icmpcode": r.icmpcode,
            "traffictype": r.traffictype,
            "tags": [],
            "fordisplay": True,
        }
    )


def pf_view(ctx: Ctx, r: PortForwardingRule) -> dict[str, Any]:
    """A portforwardingrule response object."""
    ip = ctx.by_id(PublicIpAddress, r.ipaddress_id)
    vm = ctx.by_id(VirtualMachine, r.vm_id)
    net = ctx.by_id(Network, r.network_id)
    return clean(
        {
            "id": r.uuid,
            "privateport": str(r.privateport),
            "privateendport": str(r.privateendport),
            "protocol": r.protocol,
            "publicport": str(r.publicport),
            "publicendport": str(r.publicendport),
            "virtualmachineid": vm.uuid if vm else None,
            "virtualmachinename": vm.name if vm else None,
            "virtualmachinedisplayname": (vm.displayname or vm.name) if vm else None,
            "ipaddressid": ip.uuid if ip else None,
            "ipaddress": ip.ipaddress if ip else None,
            "state": r.state,
            "cidrlist": r.cidrlist,
            "tags": [],
            "vmguestip": r.vmguestip,
            "networkid": net.uuid if net else None,
            "fordisplay": True,
        }
    )


def fw_views(ctx: Ctx, rows: list[FirewallRule]) -> list[dict[str, Any]]:
    """Firewall rules (job results)."""
    return [fw_view(ctx, r) for r in rows]


def pf_views(ctx: Ctx, rows: list[PortForwardingRule]) -> list[dict[str, Any]]:
    """Port forwards (job results)."""
    return [pf_view(ctx, r) for r in rows]


RENDERERS = {FirewallRule: ("firewallrule", fw_views), PortForwardingRule: ("portforwardingrule", pf_views)}
