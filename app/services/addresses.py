"""Public IPs: acquire, release and static NAT, each applied on the network's router (undone on failure)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlmodel import Session, select
from virga.errors import CloudError
from virga.jobs.engine import JobRun, Ref, Restart, job_body, job_recover
from virga.models import Account, Network, Nic, PublicIpAddress, VirtualMachine
from virga.services import ipam, limits
from virga.services.network import free_ip, implement, remove_rules, sync_router
from virga.services.rules import resync, settle
from virga.services.states import IpState, NetworkState, can, transition

if TYPE_CHECKING:
    from virga.context import Ctx


def _ip(s: Session, uuid: str) -> PublicIpAddress:
    """A public IP row by uuid."""
    return s.exec(select(PublicIpAddress).where(PublicIpAddress.uuid == uuid)).one()


def acquire(ctx: Ctx, account: Account, zone_id: int, net: Network | None, requested: str | None) -> PublicIpAddress:
    """Check the limit (532), implement a fresh network, take a free IP (533) for the account (its job applies it)."""
    fresh = net is not None and net.state in (NetworkState.ALLOCATED, NetworkState.SHUTDOWN)
    limits.check(ctx.db, account, 1, 2 if fresh else 1)
    if net is not None and fresh:
        implement(ctx.db, net)
    ip = ipam.allocate_public_ip(ctx.db, zone_id, requested)
    transition(ip, "allocate")
    ip.account_id, ip.domain_id = account.id, account.domain_id
    ip.network_id = net.id if net else None
    ctx.db.add(ip)
    return ip


def _free(s: Session, uuid: str) -> None:
    """Revert step: give an IP back to the pool."""
    ip = _ip(s, uuid)
    free_ip(ip)
    s.add(ip)


@job_body("associateIpAddress", restart=Restart.RECONCILE)
async def associate_body(run: JobRun) -> Ref:
    """Put the IP on the router; free it again when that fails."""
    with run.db() as s:
        net_id = _ip(s, run.instance_uuid).network_id
    if net_id is not None:
        await settle(run, net_id, lambda s: _free(s, run.instance_uuid))
    return Ref(PublicIpAddress, run.instance_uuid)


@job_recover("associateIpAddress")
async def recover_associate(run: JobRun) -> None:
    """The server died while acquiring: give the IP back and re-apply its network."""
    with run.db() as s:
        ip = _ip(s, run.instance_uuid)
        net_id = ip.network_id
        free_ip(ip)
        s.add(ip)
        s.commit()
    await resync(run.app, net_id)


def release(ctx: Ctx, ip: PublicIpAddress) -> None:
    """Mark an IP Releasing (its job drops it and its rules from the router)."""
    transition(ip, "release")
    ctx.db.add(ip)


def _unrelease(s: Session, uuid: str) -> None:
    """Revert step: a Releasing IP is Allocated again."""
    ip = _ip(s, uuid)
    if can(ip, "release_failed"):
        transition(ip, "release_failed")
        s.add(ip)


@job_body("disassociateIpAddress", restart=Restart.RECONCILE)
async def disassociate_body(run: JobRun) -> dict[str, Any]:
    """Apply the router without the IP, then free it and remove its rules (or keep it on failure)."""
    with run.db() as s:
        net_id = _ip(s, run.instance_uuid).network_id
    if net_id is not None:
        await settle(run, net_id, lambda s: _unrelease(s, run.instance_uuid))
    with run.db() as s:
        ip = _ip(s, run.instance_uuid)
        remove_rules(s, ip_id=ip.id)
        free_ip(ip)
        s.add(ip)
        s.commit()
    return {"success": True}


@job_recover("disassociateIpAddress")
async def recover_disassociate(run: JobRun) -> None:
    """The server died while releasing: the IP stays allocated; re-apply its network."""
    with run.db() as s:
        ip = _ip(s, run.instance_uuid)
        if ip.state == IpState.RELEASING:
            _unrelease(s, run.instance_uuid)
            s.commit()
        net_id = ip.network_id
    await resync(run.app, net_id)


def _map(ip: PublicIpAddress, vm_id: int | None, vm_ip: str | None) -> None:
    """Point an IP's static NAT at a VM address (or clear it with None)."""
    ip.isstaticnat, ip.vm_id, ip.vm_ip = vm_id is not None, vm_id, vm_ip


async def enable_static_nat(ctx: Ctx, ip: PublicIpAddress, net: Network, vm: VirtualMachine, nic: Nic) -> None:
    """Record the mapping and apply it at once; undo the record when applying fails."""
    _map(ip, vm.id, nic.ipaddress)
    ctx.db.add(ip)
    ctx.db.commit()  # the router backend reads committed state; reverted below when applying fails
    try:
        await sync_router(ctx.app, net.id or 0)
    except CloudError:
        ctx.db.refresh(ip)
        _map(ip, None, None)
        ctx.db.add(ip)
        ctx.db.commit()
        try:
            await sync_router(ctx.app, net.id or 0)
        except CloudError:
            pass
        raise


@job_body("disableStaticNat", restart=Restart.RECONCILE)
async def disable_static_nat_body(run: JobRun) -> dict[str, Any]:
    """Clear the mapping and its firewall rules, apply; restore them when applying fails."""
    with run.db() as s:
        ip = _ip(s, run.instance_uuid)
        net_id, vm_id, vm_ip = ip.network_id or 0, ip.vm_id, ip.vm_ip
        _map(ip, None, None)
        s.add(ip)
        s.commit()

    def revert(s: Session) -> None:
        row = _ip(s, run.instance_uuid)
        _map(row, vm_id, vm_ip)
        s.add(row)

    await settle(run, net_id, revert)
    return {"success": True}


@job_recover("disableStaticNat")
async def recover_disable_static_nat(run: JobRun) -> None:
    """The server died while disabling: the mapping the command saw (params) is back; re-apply the network."""
    with run.db() as s:
        ip = _ip(s, run.instance_uuid)
        if not ip.isstaticnat and run.params.get("vm_id") is not None:
            _map(ip, run.params["vm_id"], run.params.get("vm_ip"))
            s.add(ip)
            s.commit()
        net_id = ip.network_id
    await resync(run.app, net_id)
