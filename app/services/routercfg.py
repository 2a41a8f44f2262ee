"""Build a virtual router's (and a shared bridge's) desired state from the database: pure reads, no side effects."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from typing import Any, cast

from sqlmodel import Session, col, select
from virga.appliance.router.model import (
    EgressRule,
    FirewallRule,
    HealthCheck,
    LbRule,
    Lease,
    PortForward,
    PortRange,
    Protocol,
    PublicIp,
    RouterConfig,
    SecurityGroupConfig,
    SgNic,
    SgRule,
    VmMetadata,
    VxlanSpec,
)
from virga.models import (
    FirewallRule as FwRow,
)
from virga.models import (
    LoadBalancerMember,
    LoadBalancerRule,
    Network,
    NetworkOffering,
    Nic,
    PortForwardingRule,
    PublicIpAddress,
    SecurityGroupRule,
    SecurityGroupVm,
    ServiceOffering,
    SSHKeyPair,
    VirtualMachine,
    VlanIpRange,
    Zone,
)
from virga.services.specs import bridge_of
from virga.services.states import IpState, RuleState

LIVE = (RuleState.ADD, RuleState.ACTIVE)
DEFAULT_PUBLIC_BRIDGE = "vpub0"
ALLOW_ALL = (SgRule("all", None, ("0.0.0.0/0",)),)


def short_id(net: Network) -> str:
    """The router's short id: 8 hex digits of the network uuid (unique per host, stable)."""
    return net.uuid.replace("-", "")[:8]


def _ports(start: int | None, end: int | None) -> PortRange | None:
    """A PortRange or None."""
    return PortRange(start, end if end is not None else start) if start is not None else None


def _userdata(raw: str) -> str:
    """Decode base64 userdata (stored as CloudStack takes it)."""
    if not raw:
        return ""
    try:
        return base64.b64decode(raw).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return ""


def _nics(s: Session, net: Network) -> list[tuple[Nic, VirtualMachine]]:
    """The network's live NICs with their VMs, by address."""
    rows = s.exec(
        select(Nic, VirtualMachine)
        .join(VirtualMachine, col(VirtualMachine.id) == Nic.vm_id)
        .where(Nic.network_id == net.id, Nic.removed == None, VirtualMachine.removed == None)
        .order_by(col(Nic.ip_int), col(Nic.id))
    ).all()
    return [(n, v) for n, v in rows if n.ipaddress]


def _metadata(s: Session, zone: Zone, nic: Nic, vm: VirtualMachine) -> VmMetadata:
    """What the metadata service answers for one VM."""
    keys: tuple[str, ...] = ()
    if vm.keypair:
        kp = s.exec(
            select(SSHKeyPair).where(
                SSHKeyPair.name == vm.keypair, SSHKeyPair.account_id == vm.account_id, SSHKeyPair.removed == None
            )
        ).first()
        keys = (kp.publickey.strip(),) if kp else ()
    off = s.get(ServiceOffering, vm.serviceoffering_id)
    return VmMetadata(
        ip=nic.ipaddress or "",
        instance_id=vm.instancename or vm.uuid,
        local_hostname=vm.name,
        userdata=_userdata(vm.userdata),
        public_keys=keys,
        availability_zone=zone.name,
        service_offering=off.name if off else "",
        vm_id=vm.uuid,
    )


def _public_ips(s: Session, net: Network) -> tuple[list[PublicIp], dict[int, str]]:
    """The network's public IPs for the router, and address by IP row id."""
    out, addr = [], {}
    for ip in s.exec(
        select(PublicIpAddress)
        .where(PublicIpAddress.network_id == net.id, PublicIpAddress.state == IpState.ALLOCATED)
        .order_by(col(PublicIpAddress.id))
    ):
        rng = s.get(VlanIpRange, ip.vlan_id)
        prefix = ipaddress.IPv4Network(f"0.0.0.0/{rng.netmask}").prefixlen if rng and rng.netmask else 24
        out.append(
            PublicIp(
                ip.ipaddress,
                prefix,
                rng.gateway if rng else "",
                is_source_nat=ip.issourcenat,
                static_nat_ip=ip.vm_ip if ip.isstaticnat else None,
            )
        )
        addr[ip.id or 0] = ip.ipaddress
    return out, addr


def _live(s: Session, model: Any, *where: Any) -> list[Any]:
    """Live (Add/Active, not removed) rows of a rule table, by id."""
    stmt = select(model).where(model.removed == None, model.state.in_(LIVE), *where)
    return list(s.exec(stmt.order_by(model.id)))


def _firewall(s: Session, net: Network, addr: dict[int, str]) -> tuple[list[FirewallRule], list[EgressRule]]:
    """Ingress rules per public IP and egress rules of the network."""
    ingress, egress = [], []
    for r in _live(s, FwRow, FwRow.network_id == net.id):
        proto, ports = r.protocol, _ports(r.startport, r.endport)
        if r.traffictype == "Egress":
            egress.append(
                EgressRule(
                    proto,
                    ports,
                    tuple(r.destcidrlist.split(",")) if r.destcidrlist else ("0.0.0.0/0",),
                    r.icmptype,
                    r.icmpcode,
                )
            )
        elif r.ipaddress_id in addr:
            ingress.append(
                FirewallRule(
                    addr[r.ipaddress_id],
                    proto,
                    ports,
                    r.icmptype,
                    r.icmpcode,
                    tuple(r.cidrlist.split(",")) if r.cidrlist else ("0.0.0.0/0",),
                )
            )
    return ingress, egress


def _forwards(s: Session, net: Network, addr: dict[int, str]) -> list[PortForward]:
    """Port forwarding rules."""
    return [
        PortForward(
            addr[r.ipaddress_id],
            PortRange(r.publicport, r.publicendport),
            r.vmguestip,
            PortRange(r.privateport, r.privateendport),
            r.protocol,
            r.openfirewall,
        )
        for r in _live(s, PortForwardingRule, PortForwardingRule.network_id == net.id)
        if r.ipaddress_id in addr
    ]


def health_check(policy: dict[str, Any] | None) -> HealthCheck | None:
    """A router health check from an LB rule's stored policy."""
    if not policy:
        return None
    path = policy.get("pingpath") or ""
    return HealthCheck(
        "http" if path else "tcp",
        path or "/",
        int(policy.get("intervaltime", 5)) * 1000,
        int(policy.get("healthythreshold", 2)),
        int(policy.get("unhealthythreshold", 3)),
    )


def lb_name(rule: LoadBalancerRule) -> str:
    """The stable name of an LB rule on the router (user names may hold any character)."""
    return f"lb-{rule.uuid[:8]}"


def _lbs(s: Session, net: Network, addr: dict[int, str]) -> list[LbRule]:
    """Load balancer rules with their members' guest addresses."""
    out = []
    for r in _live(s, LoadBalancerRule, LoadBalancerRule.network_id == net.id):
        if r.ipaddress_id not in addr:
            continue
        members = s.exec(
            select(LoadBalancerMember.vmip)
            .where(LoadBalancerMember.rule_id == r.id, LoadBalancerMember.removed == None)
            .order_by(col(LoadBalancerMember.id))
        ).all()
        out.append(
            LbRule(
                lb_name(r),
                addr[r.ipaddress_id],
                r.publicport,
                r.privateport,
                r.algorithm,
                tuple(m for m in members if m),
                health_check(r.healthcheck),
                r.openfirewall,
            )
        )
    return out


def _segment(zone: Zone, net: Network) -> dict[str, Any]:
    """VXLAN or VLAN settings of the guest segment when the zone says how to reach other hosts."""
    details = zone.details or {}
    uri = net.broadcasturi or ""
    if uri.startswith("vxlan://") and details.get("vxlan_local"):
        remotes = tuple(x for x in str(details.get("vxlan_remotes", "")).split(",") if x)
        return {
            "vxlan": VxlanSpec(
                int(uri[8:]), str(details["vxlan_local"]), remotes, underlay_dev=details.get("vxlan_dev")
            )
        }
    if uri.startswith("vlan://") and details.get("vlan_parent") and uri[7:].isdigit():
        return {"vlan_id": int(uri[7:]), "vlan_parent": str(details["vlan_parent"])}
    return {}


def router_config(s: Session, net: Network) -> RouterConfig:
    """The full desired state of a network's router, from the database (deterministic order)."""
    zone = s.get(Zone, net.zone_id)
    off = s.get(NetworkOffering, net.networkoffering_id)
    assert zone is not None and off is not None
    nics = _nics(s, net)
    publics, addr = _public_ips(s, net)
    ingress, egress = _firewall(s, net, addr)
    cidr = str(ipaddress.IPv4Network(net.cidr, strict=False))
    return RouterConfig(
        network_uuid=net.uuid,
        short_id=short_id(net),
        guest_cidr=cidr,
        gateway=net.gateway,
        netmask=net.netmask,
        domain=net.networkdomain or zone.domain or "cloud.internal",
        guest_bridge=bridge_of(net),
        public_bridge=str((zone.details or {}).get("public_bridge", DEFAULT_PUBLIC_BRIDGE)),
        dns=tuple(d for d in (net.dns1 or zone.dns1, net.dns2 or zone.dns2) if d),
        egress_default="allow" if off.egressdefaultpolicy else "deny",
        public_ips=tuple(publics),
        leases=tuple(Lease(n.macaddress.lower(), n.ipaddress or "", v.name, v.uuid) for n, v in nics),
        metadata=tuple(_metadata(s, zone, n, v) for n, v in nics),
        firewall=tuple(ingress),
        egress=tuple(egress),
        port_forwards=tuple(_forwards(s, net, addr)),
        lb_rules=tuple(_lbs(s, net, addr)),
        **_segment(zone, net),
    )


def _sg_rules(s: Session, group_ids: list[int], kind: str) -> tuple[SgRule, ...]:
    """The rules of some security groups, with group peers expanded to their members' addresses."""
    out = []
    for r in s.exec(
        select(SecurityGroupRule)
        .where(
            SecurityGroupRule.securitygroup_id.in_(group_ids),  # type: ignore[attr-defined]
            SecurityGroupRule.type == kind,
            SecurityGroupRule.removed == None,
        )
        .order_by(col(SecurityGroupRule.id))
    ):
        members: tuple[str, ...] = ()
        if r.usersecuritygroup:
            members = tuple(
                sorted(
                    {
                        n.ipaddress or ""
                        for n in s.exec(
                            select(Nic)
                            .join(SecurityGroupVm, col(SecurityGroupVm.vm_id) == Nic.vm_id)
                            .where(
                                SecurityGroupVm.securitygroup_id == int(r.usersecuritygroup),
                                SecurityGroupVm.removed == None,
                                Nic.removed == None,
                            )
                        )
                    }
                    - {""}
                )
            )
        out.append(
            SgRule(
                cast("Protocol", r.protocol),
                _ports(r.startport, r.endport),
                tuple(r.cidr.split(",")) if r.cidr else (),
                members,
                r.icmptype,
                r.icmpcode,
            )
        )
    return tuple(out)


def security_group_config(s: Session, net: Network) -> SecurityGroupConfig:
    """The bridge filtering of a shared network: each NIC gets its VM's groups' rules."""
    nics = []
    for nic, vm in _nics(s, net):
        groups = list(
            s.exec(
                select(SecurityGroupVm.securitygroup_id).where(
                    SecurityGroupVm.vm_id == vm.id, SecurityGroupVm.removed == None
                )
            )
        )
        egress = _sg_rules(s, groups, "egress") or ALLOW_ALL  # no egress rule: egress is open (CloudStack)
        nics.append(SgNic(nic.macaddress.lower(), nic.ipaddress or "", _sg_rules(s, groups, "ingress"), egress))
    return SecurityGroupConfig(net.uuid, short_id(net), bridge_of(net), net.gateway or None, tuple(nics))
