"""Catalog entries for networking: guest networks, public IPs, NAT, firewall, port forwarding, LB."""

from __future__ import annotations

from virga.tui import fmt, validate
from virga.tui.catalog.base import (
    Action,
    Choice,
    Field,
    Resource,
    col,
    delete,
    id_only,
    nothing,
    register,
    state_col,
)
from virga.tui.widgets.resource_table import Column

ZONES = Choice("listZones", "zone")
NET_OFFERINGS = Choice("listNetworkOfferings", "networkoffering", params={"state": "Enabled"})
NETWORKS = Choice("listNetworks", "network", params={"listall": True})
IPS = Choice("listPublicIpAddresses", "publicipaddress", label="ipaddress", params={"listall": True})
VMS = Choice("listVirtualMachines", "virtualmachine", params={"listall": True})
PROTOCOLS = ("tcp", "udp", "icmp", "all")
SSH_PORT = "22"  # port forwarding and firewall rules start from the same port, so the defaults work together


def vms_on(network: str) -> Choice:
    """VM choices narrowed to a network (named as Choice.where names a source)."""
    return Choice("listVirtualMachines", "virtualmachine", params={"listall": True}, where={"networkid": network})


def flag(name: str, title: str) -> Column:
    """A yes/blank column for a boolean field."""
    return Column(title, len(title), lambda i: ("yes" if i.get(name) else "", "green"))


register(
    Resource(
        "net",
        "Networks",
        "listNetworks",
        "network",
        lambda c: [
            col("name", "NAME", 18),
            state_col(),
            col("type", "TYPE", 8),
            col("cidr", "CIDR", 16),
            col("networkofferingname", "OFFERING", 22),
            col("zonename", "ZONE", 10),
            col("account", "ACCOUNT", 10),
        ],
        ("network", "networks", "nets"),
        (
            Action(
                "n",
                "Create",
                "createNetwork",
                nothing,
                (
                    Field("name", "Name", required=True, validate=validate.required),
                    Field("displaytext", "Display text", required=True, validate=validate.required),
                    Field("zoneid", "Zone", required=True, choice=ZONES),
                    Field("networkofferingid", "Offering", required=True, choice=NET_OFFERINGS),
                    Field("gateway", "Gateway (optional)", placeholder="10.1.1.1"),
                    Field("netmask", "Netmask (optional)", placeholder="255.255.255.0"),
                ),
                needs_item=False,
            ),
            Action("r", "Restart", "restartNetwork", id_only, confirm=True),
            delete("deleteNetwork"),
        ),
    ),
    Resource(
        "ip",
        "Public IPs",
        "listPublicIpAddresses",
        "publicipaddress",
        lambda c: [
            col("ipaddress", "IP", 15),
            state_col(),
            flag("issourcenat", "SNAT"),
            flag("isstaticnat", "STATIC"),
            col("virtualmachinename", "VM", 14),
            col("associatednetworkname", "NETWORK", 14),
            col("zonename", "ZONE", 10),
        ],
        ("ips", "publicip", "address"),
        (
            Action(
                "n",
                "Acquire",
                "associateIpAddress",
                nothing,
                (Field("networkid", "Network", required=True, choice=NETWORKS),),
                needs_item=False,
            ),
            Action(
                "t",
                "Static NAT",
                "enableStaticNat",
                lambda i: {"ipaddressid": i["id"]},
                (Field("virtualmachineid", "VM", required=True, choice=vms_on("item.associatednetworkid")),),
            ),
            Action("T", "No static NAT", "disableStaticNat", lambda i: {"ipaddressid": i["id"]}, confirm=True),
            Action("x", "Release", "disassociateIpAddress", id_only, confirm=True),
        ),
    ),
    Resource(
        "fw",
        "Firewall rules",
        "listFirewallRules",
        "firewallrule",
        lambda c: [
            col("ipaddress", "IP", 15),
            col("protocol", "PROTO", 5),
            col("startport", "FROM", 5),
            col("endport", "TO", 5),
            col("cidrlist", "CIDRS", 20),
            state_col(),
        ],
        ("firewall", "firewallrule"),
        (
            Action(
                "n",
                "Add",
                "createFirewallRule",
                nothing,
                (
                    Field("ipaddressid", "Public IP", required=True, choice=IPS),
                    Field("protocol", "Protocol", default="tcp", options=PROTOCOLS),
                    Field("startport", "Start port", default=SSH_PORT, validate=validate.integer),
                    Field("endport", "End port", default=SSH_PORT, validate=validate.integer),
                    Field("cidrlist", "Source CIDRs", default="0.0.0.0/0", validate=validate.cidr),
                ),
                needs_item=False,
            ),
            delete("deleteFirewallRule"),
        ),
    ),
    Resource(
        "egress",
        "Egress rules",
        "listEgressFirewallRules",
        "firewallrule",
        lambda c: [
            col("networkid", "NETWORK", 36),
            col("protocol", "PROTO", 5),
            col("startport", "FROM", 5),
            col("endport", "TO", 5),
            col("cidrlist", "CIDRS", 20),
            state_col(),
        ],
        ("egressrule",),
        (
            Action(
                "n",
                "Add",
                "createEgressFirewallRule",
                nothing,
                (
                    Field("networkid", "Network", required=True, choice=NETWORKS),
                    Field("protocol", "Protocol", default="tcp", options=PROTOCOLS),
                    Field("startport", "Start port", default="80"),
                    Field("endport", "End port", default="80"),
                    Field("cidrlist", "Destination CIDRs", default="0.0.0.0/0", validate=validate.cidr),
                ),
                needs_item=False,
            ),
            delete("deleteEgressFirewallRule"),
        ),
    ),
    Resource(
        "pf",
        "Port forwarding",
        "listPortForwardingRules",
        "portforwardingrule",
        lambda c: [
            col("ipaddress", "IP", 15),
            col("publicport", "PUBLIC", 6),
            col("privateport", "PRIVATE", 7),
            col("protocol", "PROTO", 5),
            col("virtualmachinename", "VM", 16),
            state_col(),
        ],
        ("portforward", "nat"),
        (
            Action(
                "n",
                "Add",
                "createPortForwardingRule",
                nothing,
                (
                    Field("ipaddressid", "Public IP", required=True, choice=IPS),
                    Field("protocol", "Protocol", default="tcp", options=("tcp", "udp")),
                    Field("publicport", "Public port", default=SSH_PORT, validate=validate.integer),
                    Field("privateport", "Private port", default=SSH_PORT, validate=validate.integer),
                    Field("virtualmachineid", "VM", required=True, choice=vms_on("ipaddressid.associatednetworkid")),
                ),
                needs_item=False,
            ),
            delete("deletePortForwardingRule"),
        ),
    ),
    Resource(
        "lb",
        "Load balancers",
        "listLoadBalancerRules",
        "loadbalancerrule",
        lambda c: [
            col("name", "NAME", 14),
            col("publicip", "IP", 15),
            col("publicport", "PUBLIC", 6),
            col("privateport", "PRIVATE", 7),
            col("algorithm", "ALGORITHM", 10),
            state_col(),
        ],
        ("loadbalancer",),
        (
            Action(
                "n",
                "Add",
                "createLoadBalancerRule",
                nothing,
                (
                    Field("name", "Name", required=True, validate=validate.required),
                    Field("publicipid", "Public IP", required=True, choice=IPS),
                    Field("publicport", "Public port", default="80", validate=validate.integer),
                    Field("privateport", "Private port", default="80", validate=validate.integer),
                    Field(
                        "algorithm", "Algorithm", default="roundrobin", options=("roundrobin", "leastconn", "source")
                    ),
                ),
                needs_item=False,
            ),
            Action(
                "a",
                "Assign VM",
                "assignToLoadBalancerRule",
                id_only,
                (Field("virtualmachineids", "VM", required=True, choice=vms_on("item.networkid")),),
            ),
            delete("deleteLoadBalancerRule"),
        ),
    ),
    Resource(
        "lbvm",
        "LB members",
        "listLoadBalancerRuleInstances",
        "loadbalancerruleinstance",
        lambda c: [
            col("name", "NAME", 18),
            state_col(),
            Column("IP", 15, lambda i: (fmt.first_ip(i), "cyan")),
            col("hostname", "HOST", 14),
            col("zonename", "ZONE", 10),
        ],
        ("lbmember", "members"),
        (
            Action(
                "x",
                "Remove from LB",
                "removeFromLoadBalancerRule",
                lambda i: {"virtualmachineids": i["id"]},
                confirm=True,
                context=("id",),
            ),
        ),
        {},
    ),
    Resource(
        "router",
        "Virtual routers",
        "listRouters",
        "router",
        lambda c: [
            col("name", "NAME", 16),
            state_col(),
            col("publicip", "PUBLIC IP", 15),
            col("guestipaddress", "GUEST IP", 15),
            col("guestnetworkname", "NETWORK", 14),
            col("hostname", "HOST", 12),
        ],
        ("routers", "vr"),
        (
            Action("s", "Start", "startRouter", id_only, confirm=True),
            Action("S", "Stop", "stopRouter", id_only, confirm=True),
            Action("r", "Reboot", "rebootRouter", id_only, confirm=True),
            delete("destroyRouter", "Destroy"),
        ),
    ),
    Resource(
        "sg",
        "Security groups",
        "listSecurityGroups",
        "securitygroup",
        lambda c: [col("name", "NAME", 18), col("description", "DESCRIPTION", 30), col("account", "ACCOUNT", 12)],
        ("secgroup", "securitygroup"),
        (
            Action(
                "n",
                "Create",
                "createSecurityGroup",
                nothing,
                (Field("name", "Name", required=True, validate=validate.required), Field("description", "Description")),
                needs_item=False,
            ),
            Action(
                "i",
                "Allow ingress",
                "authorizeSecurityGroupIngress",
                lambda i: {"securitygroupid": i["id"]},
                (
                    Field("protocol", "Protocol", default="tcp", options=PROTOCOLS),
                    Field("startport", "Start port", default="22"),
                    Field("endport", "End port", default="22"),
                    Field("cidrlist", "CIDRs", default="0.0.0.0/0", validate=validate.cidr),
                ),
            ),
            delete("deleteSecurityGroup"),
        ),
    ),
)
