"""Network rules: validation, conflict detection and the apply-or-undo jobs shared by the rule commands."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam
from sqlmodel import Session, col, select
from virga.errors import InvalidParameter, RuleConflict
from virga.jobs.engine import JobBody, JobRun, Recover, Ref, Restart, job_body, job_recover
from virga.models import (
    FirewallRule,
    LoadBalancerRule,
    Network,
    Nic,
    PortForwardingRule,
    PublicIpAddress,
    VirtualMachine,
    utcnow,
)
from virga.services.network import services_of, sync_router
from virga.services.states import IpState, RuleState, transition

if TYPE_CHECKING:
    from virga.context import Ctx

log = logging.getLogger(__name__)
PROTOCOLS = ("tcp", "udp", "icmp", "all")
LIVE = (RuleState.ADD, RuleState.ACTIVE)


# --- validation ---------------------------------------------------------------


def protocol(value: str | None, param: str = "protocol", allowed: tuple[str, ...] = PROTOCOLS) -> str:
    """A protocol name, lowercased, among the allowed ones (431 naming the parameter)."""
    proto = (value or "").strip().lower()
    if proto not in allowed:
        raise InvalidParameter(f"Parameter {param} must be one of {', '.join(allowed)}, not {value!r}")
    return proto


def port(value: int | None, param: str) -> int | None:
    """A port in 1..65535, or None when absent."""
    if value is None:
        return None
    if not 1 <= int(value) <= 65535:
        raise InvalidParameter(f"Parameter {param} must be a port between 1 and 65535, not {value}")
    return int(value)


def port_range(start: int | None, end: int | None, pstart: str, pend: str) -> tuple[int | None, int | None]:
    """A checked (start, end) range; end defaults to start."""
    first, last = port(start, pstart), port(end, pend)
    if first is None and last is not None:
        raise InvalidParameter(f"Parameter {pstart} is required with {pend}")
    if last is None:
        last = first
    if first is not None and last is not None and last < first:
        raise InvalidParameter(f"Parameter {pend} ({last}) is lower than {pstart} ({first})")
    return first, last


def cidrs(values: list[str] | None, param: str = "cidrlist", default: str = "0.0.0.0/0") -> str:
    """A comma-joined list of normalised IPv4 CIDRs (431 naming the parameter when malformed)."""
    out = []
    for value in values or []:
        try:
            out.append(str(ipaddress.IPv4Network(value.strip(), strict=False)))
        except ValueError:
            raise InvalidParameter(f"Parameter {param} has a malformed CIDR: {value!r}") from None
    return ",".join(out) or default


def icmp(value: int | None, param: str, proto: str) -> int | None:
    """An ICMP type or code in -1..255, only with protocol icmp."""
    if value is None:
        return None
    if proto != "icmp":
        raise InvalidParameter(f"Parameter {param} is only valid with protocol icmp")
    if not -1 <= value <= 255:
        raise InvalidParameter(f"Parameter {param} must be between -1 and 255, not {value}")
    return value


def rule_ports(ctx: Ctx, proto: str) -> tuple[int | None, int | None]:
    """startport/endport of a firewall rule: required for tcp/udp, refused for icmp/all."""
    start, end = port_range(ctx.args.startport, ctx.args.endport, "startport", "endport")
    if proto in ("tcp", "udp") and start is None:
        raise InvalidParameter(f"Parameter startport is required for protocol {proto}")
    if proto not in ("tcp", "udp") and start is not None:
        raise InvalidParameter(f"Parameters startport/endport do not apply to protocol {proto}")
    return start, end


# --- lookups ------------------------------------------------------------------


def owned_ip(ctx: Ctx, uuid: str | None, param: str = "ipaddressid") -> tuple[PublicIpAddress, Network]:
    """A public IP the caller may use for rules, with its network (431 when absent or not associated)."""
    ip = ctx.get(PublicIpAddress, uuid, param)
    if ip.state != IpState.ALLOCATED or ip.network_id is None or ip.account_id is None:
        raise InvalidParameter(f"Public IP {ip.ipaddress} is not associated with a network (parameter {param})")
    ctx.require(ip, f"public IP {ip.ipaddress}")
    net = ctx.db.get(Network, ip.network_id)
    assert net is not None
    return ip, net


def vm_nic(
    ctx: Ctx, vm_uuid: str | None, net: Network, guest_ip: str | None, param: str = "virtualmachineid"
) -> tuple[VirtualMachine, Nic]:
    """A VM of the network's account and its NIC on the network (431 when it has none there)."""
    vm = ctx.get(VirtualMachine, vm_uuid, param)
    ctx.require(vm, f"VM {vm.name}")
    if vm.account_id != net.account_id:
        raise InvalidParameter(f"VM {vm.name} does not belong to the account of network {net.name}")
    nic = ctx.db.exec(select(Nic).where(Nic.vm_id == vm.id, Nic.network_id == net.id, Nic.removed == None)).first()
    if nic is None:
        raise InvalidParameter(f"VM {vm.name} has no NIC on network {net.name} (parameter {param})")
    if guest_ip and guest_ip != nic.ipaddress:
        raise InvalidParameter(f"Parameter vmguestip {guest_ip} is not an address of VM {vm.name} on {net.name}")
    return vm, nic


# --- conflicts ----------------------------------------------------------------


def check_claim(
    s: Session,
    ip: PublicIpAddress,
    proto: str,
    start: int,
    end: int,
    *,
    skip_pf: int | None = None,
    skip_lb: int | None = None,
) -> None:
    """537 when a port forward or LB rule already claims an overlapping port range on the IP/protocol."""
    if ip.isstaticnat:
        raise RuleConflict(f"Public IP {ip.ipaddress} has static NAT enabled: it cannot have port rules")
    for pf in s.exec(
        select(PortForwardingRule).where(
            PortForwardingRule.ipaddress_id == ip.id,
            PortForwardingRule.removed == None,
            col(PortForwardingRule.state).in_(LIVE),
        )
    ):
        if pf.id != skip_pf and pf.protocol == proto and pf.publicport <= end and start <= pf.publicendport:
            raise RuleConflict(
                f"The range {start}-{end}/{proto} conflicts with port forwarding rule {pf.uuid} "
                f"({pf.publicport}-{pf.publicendport}) on {ip.ipaddress}"
            )
    for lb in s.exec(
        select(LoadBalancerRule).where(
            LoadBalancerRule.ipaddress_id == ip.id,
            LoadBalancerRule.removed == None,
            col(LoadBalancerRule.state).in_(LIVE),
        )
    ):
        if lb.id != skip_lb and lb.protocol == proto and start <= lb.publicport <= end:
            raise RuleConflict(
                f"The range {start}-{end}/{proto} conflicts with load balancer rule {lb.name} "
                f"(port {lb.publicport}) on {ip.ipaddress}"
            )


def has_port_rules(s: Session, ip: PublicIpAddress) -> bool:
    """Whether port forwarding or LB rules use the IP."""
    for model in (PortForwardingRule, LoadBalancerRule):
        if s.exec(select(model.id).where(model.ipaddress_id == ip.id, model.removed == None)).first():
            return True
    return False


# --- apply-or-undo jobs -------------------------------------------------------


async def settle(run: JobRun, network_id: int, revert: Callable[[Session], None]) -> None:
    """Apply the network's router; if that fails, revert the database change and re-apply the old state."""
    app = run.app

    async def undo() -> None:
        with run.db() as s:
            revert(s)
            s.commit()
        try:
            await sync_router(app, network_id)
        except Exception as exc:
            log.warning("re-applying network %s after a failed change: %s", network_id, exc)

    run.undo.push("revert the rule change", undo)
    await sync_router(app, network_id)


def _row(s: Session, model: Any, uuid: str) -> Any:
    """A row by uuid."""
    return s.exec(select(model).where(model.uuid == uuid)).one()


def _retire(model: Any, uuid: str) -> Callable[[Session], None]:
    """A revert step: mark a row removed."""

    def fn(s: Session) -> None:
        row = _row(s, model, uuid)
        row.removed = utcnow()
        transition(row, "retire")
        s.add(row)

    return fn


def _restore(model: Any, uuid: str) -> Callable[[Session], None]:
    """A revert step: make a revoked row active again."""

    def fn(s: Session) -> None:
        row = _row(s, model, uuid)
        transition(row, "restore")
        s.add(row)

    return fn


def create_job(command: str, model: Any) -> tuple[JobBody, Recover]:
    """The job of a create command: apply the Add row, activate it, or remove it on failure (body, recover)."""

    async def body(run: JobRun) -> Ref:
        with run.db() as s:
            net_id = _row(s, model, run.instance_uuid).network_id
        await settle(run, net_id, _retire(model, run.instance_uuid))
        with run.db() as s:
            row = _row(s, model, run.instance_uuid)
            transition(row, "activate")
            s.add(row)
            s.commit()
        return Ref(model, run.instance_uuid)

    return job_body(command, restart=Restart.RECONCILE)(body), job_recover(command)(_recover(model, RuleState.ADD))


def _recover(model: Any, pending: str) -> Callable[[JobRun], Any]:
    """A recovery for a rule job whose server died: undo the pending row change and re-apply the network."""

    async def recover(run: JobRun) -> None:
        with run.db() as s:
            row = s.exec(select(model).where(model.uuid == run.instance_uuid)).first()
            if row is None:
                return
            net_id = row.network_id
            if row.state == pending and row.removed is None:
                (_retire if pending == RuleState.ADD else _restore)(model, run.instance_uuid)(s)
                s.commit()
        await resync(run.app, net_id)

    return recover


async def resync(app: Any, network_id: int | None) -> None:
    """Best-effort re-apply of a network's router from the database."""
    if network_id is None:
        return
    try:
        await sync_router(app, network_id)
    except Exception as exc:
        log.warning("re-applying network %s: %s", network_id, exc)


def delete_job(command: str, model: Any) -> tuple[JobBody, Recover]:
    """The job of a delete command: apply without the Revoke row, then remove it, or restore it (body, recover)."""

    async def body(run: JobRun) -> dict[str, Any]:
        with run.db() as s:
            net_id = _row(s, model, run.instance_uuid).network_id
        await settle(run, net_id, _restore(model, run.instance_uuid))
        with run.db() as s:
            _retire(model, run.instance_uuid)(s)
            s.commit()
        return {"success": True}

    return job_body(command, restart=Restart.RECONCILE)(body), job_recover(command)(_recover(model, RuleState.REVOKE))


def revoke(ctx: Ctx, row: Any, what: str) -> None:
    """Mark a rule Revoke in the caller's transaction (the job applies and removes it)."""
    ctx.require(row, what)
    if row.state == RuleState.REVOKE:
        raise InvalidParameter(f"{what} is already being deleted")
    transition(row, "revoke")
    ctx.db.add(row)


async def set_fields(run: JobRun, model: Any, change: dict[str, Any]) -> None:
    """Set fields of the job's row, apply its network, and restore the old values when applying fails."""
    with run.db() as s:
        row = _row(s, model, run.instance_uuid)
        old = {k: getattr(row, k) for k in change}
        for k, v in change.items():
            setattr(row, k, v)
        s.add(row)
        s.commit()
        net_id = row.network_id

    def revert(s: Session) -> None:
        back = _row(s, model, run.instance_uuid)
        for k, v in old.items():
            setattr(back, k, v)
        s.add(back)

    await settle(run, net_id, revert)


def recover_fields(model: Any) -> Recover:
    """A recovery for set_fields jobs: put back the values the command recorded (params["old"]), re-apply."""

    async def recover(run: JobRun) -> None:
        with run.db() as s:
            row = s.exec(select(model).where(model.uuid == run.instance_uuid)).first()
            if row is None:
                return
            for k, v in (run.params.get("old") or {}).items():
                setattr(row, k, v)
            s.add(row)
            s.commit()
            net_id = row.network_id
        await resync(run.app, net_id)

    return recover


# --- firewall and port forwarding rules ------------------------------------------


def create_firewall_rule(ctx: Ctx, fields: dict[str, Any]) -> FirewallRule:
    """Record a checked ingress or egress firewall rule (Add: its job applies it)."""
    rule = FirewallRule(state=RuleState.ADD, **fields)
    ctx.db.add(rule)
    ctx.db.flush()
    return rule


def create_port_forward(ctx: Ctx, fields: dict[str, Any]) -> PortForwardingRule:
    """Record a checked port forward (Add: its job applies it)."""
    rule = PortForwardingRule(state=RuleState.ADD, **fields)
    ctx.db.add(rule)
    ctx.db.flush()
    return rule


_createFirewallRule_job = create_job("createFirewallRule", FirewallRule)
_createEgressFirewallRule_job = create_job("createEgressFirewallRule", FirewallRule)
_createPortForwardingRule_job = create_job("createPortForwardingRule", PortForwardingRule)
_deleteFirewallRule_job = delete_job("deleteFirewallRule", FirewallRule)
_deleteEgressFirewallRule_job = delete_job("deleteEgressFirewallRule", FirewallRule)
_deletePortForwardingRule_job = delete_job("deletePortForwardingRule", PortForwardingRule)


@job_body("updatePortForwardingRule", restart=Restart.RECONCILE)
async def update_pf_body(run: JobRun) -> Ref:
    """Record the new target, apply, and restore the old one when applying fails."""
    keys = ("privateport", "privateendport", "vm_id", "vmguestip")
    await set_fields(run, PortForwardingRule, {k: run.params[k] for k in keys})
    return Ref(PortForwardingRule, run.instance_uuid)


_updatePortForwardingRule_recover = job_recover("updatePortForwardingRule")(recover_fields(PortForwardingRule))


# --- security groups -------------------------------------------------------------


def default_group(s: Session, account_id: int, domain_id: int) -> Any:
    """The account's "default" security group, created on first use."""
    from virga.models import SecurityGroup

    group = s.exec(
        select(SecurityGroup).where(
            SecurityGroup.account_id == account_id, SecurityGroup.name == "default", SecurityGroup.removed == None
        )
    ).first()
    if group is None:
        group = SecurityGroup(
            name="default", description="Default Security Group", account_id=account_id, domain_id=domain_id
        )
        s.add(group)
        s.flush()
    return group


def attach_security_groups(
    s: Session, vm: VirtualMachine | SimpleNamespace, nets: list[Network], uuids: list[str] | None
) -> None:
    """Deploy hook: put a VM on shared networks with security groups into the named groups (or "default")."""
    from virga.models import SecurityGroup, SecurityGroupVm

    with_sg = any("SecurityGroup" in services_of(s, n) for n in nets)
    if not with_sg:
        if uuids:
            raise InvalidParameter("Parameter securitygroupids needs a network with the SecurityGroup service")
        return
    groups = []
    for uuid in uuids or []:
        group = s.exec(select(SecurityGroup).where(SecurityGroup.uuid == uuid, SecurityGroup.removed == None)).first()
        if group is None or group.account_id != vm.account_id:
            raise InvalidParameter(f"Unable to find security group with id {uuid} (parameter securitygroupids)")
        groups.append(group)
    for group in groups or [default_group(s, vm.account_id, vm.domain_id)]:
        s.add(SecurityGroupVm(securitygroup_id=group.id or 0, vm_id=vm.id or 0))


# `removed` is filtered in Python: given `removed IS NULL` terms, SQLite walks that index (NULL for nearly
# every row) instead of the name index.
HOSTNAME_NETWORKS = (
    select(Nic.network_id, Nic.removed, VirtualMachine.removed)
    .join(VirtualMachine, col(VirtualMachine.id) == Nic.vm_id)
    .where(VirtualMachine.name == bindparam("n"))
)


def check_hostname_free(s: Session, name: str, nets: list[Network]) -> None:
    """Deploy hook: refuse (431) a host name another live VM already has on one of these guest networks."""
    if not name or not nets:
        return
    # One query driven from the (selective) name index: a network's NICs can be tens of thousands.
    names = {n.id: n.name for n in nets}
    clash = next(
        (
            names[nid]
            for nid, nic_gone, vm_gone in s.connection().execute(HOSTNAME_NETWORKS, {"n": name})
            if nid in names and nic_gone is None and vm_gone is None
        ),
        None,
    )
    if clash is not None:
        raise InvalidParameter(
            f"The VM with host name {name} already exists in network {clash}: choose another name (parameter name)"
        )
