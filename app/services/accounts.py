"""Account workflows inside jobs: disabling (stopping VMs) and deleting everything an account owns."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, select
from virga.jobs.engine import JobRun
from virga.jobs.undo import UndoStack
from virga.models import (
    Account,
    Domain,
    Network,
    PublicIpAddress,
    ResourceLimit,
    ResourceTag,
    Snapshot,
    SSHKeyPair,
    StoragePool,
    Template,
    User,
    VirtualMachine,
    VMSnapshot,
    Volume,
    utcnow,
)
from virga.services.events import record_event
from virga.services.states import can, transition

if TYPE_CHECKING:
    from virga.core import VirgaApp

log = logging.getLogger(__name__)


def _vm_run(run: JobRun, vm: VirtualMachine, params: dict[str, Any]) -> JobRun:
    """A job view onto one VM, to reuse the VM job bodies inside an account job."""
    return JobRun(run.app, run.job_id, run.uuid, run.command, params, run.user_id, vm.uuid, UndoStack())


async def stop_vms(run: JobRun, account_id: int) -> None:
    """Stop every running VM of an account through the VM stop workflow."""
    from virga.services.vmops import stop

    with run.db() as s:
        vms = s.exec(
            select(VirtualMachine).where(VirtualMachine.account_id == account_id, VirtualMachine.state == "Running")
        ).all()
        for vm in vms:
            transition(vm, "stop")
            s.add(vm)
        s.commit()
    for vm in vms:
        await stop(_vm_run(run, vm, {"forced": True}))


async def expunge_vms(run: JobRun, account_id: int) -> None:
    """Destroy and expunge every VM of an account through the VM destroy workflow."""
    from virga.services.vmops import destroy

    with run.db() as s:
        vms = s.exec(
            select(VirtualMachine).where(VirtualMachine.account_id == account_id, VirtualMachine.removed == None)
        ).all()
        for vm in vms:
            if can(vm, "destroy"):
                transition(vm, "destroy")
                s.add(vm)
        s.commit()
    for vm in vms:
        await destroy(_vm_run(run, vm, {"expunge": True}))


async def delete_storage(app: VirgaApp, account_id: int) -> None:
    """Delete an account's snapshots, VM snapshots and remaining volumes."""
    from virga.services.snapshots import remove
    from virga.services.specs import volume_spec
    from virga.services.volumes import host_for_pool

    with app.db.session() as s:
        snaps = [
            x.uuid for x in s.exec(select(Snapshot).where(Snapshot.account_id == account_id, Snapshot.removed == None))
        ]
    for uuid in snaps:
        await remove(app, uuid)
    with app.db.session() as s:
        vols = s.exec(select(Volume).where(Volume.account_id == account_id, Volume.removed == None)).all()
        targets = []
        for v in vols:
            sp = s.get(StoragePool, v.pool_id) if v.pool_id else None
            if sp is not None and v.path:
                targets.append((v.id, host_for_pool(s, sp), volume_spec(s, v), sp.id))
    for vol_id, host, spec, pool_id in targets:
        await (await app.hosts.driver(host)).delete_volume(spec)
        _forget_volume(app, vol_id, pool_id)
    with app.db.session() as s:
        now = utcnow()
        for v in s.exec(select(Volume).where(Volume.account_id == account_id, Volume.removed == None)):
            v.state, v.removed, v.vm_id = "Expunged", now, None
            s.add(v)
        for vms in s.exec(select(VMSnapshot).where(VMSnapshot.account_id == account_id, VMSnapshot.removed == None)):
            vms.state, vms.removed = "Removed", now
            s.add(vms)
        s.commit()


def _forget_volume(app: VirgaApp, vol_id: int, pool_id: int) -> None:
    """Mark a deleted volume removed and give its pool the bytes back."""
    with app.db.session() as s:
        vol, pool = s.get(Volume, vol_id), s.get(StoragePool, pool_id)
        assert vol is not None
        if pool is not None:
            pool.allocatedbytes = max(0, pool.allocatedbytes - vol.size)
            s.add(pool)
        vol.state, vol.removed, vol.vm_id = "Expunged", utcnow(), None
        s.add(vol)
        s.commit()


async def delete_networks(app: VirgaApp, account_id: int) -> None:
    """Remove an account's networks (routers, IPs, rules) and free its other public IPs."""
    from virga.services.network import destroy_router, free_ip, release_network

    with app.db.session() as s:
        nets = [n.id for n in s.exec(select(Network).where(Network.account_id == account_id, Network.removed == None))]
    for net_id in nets:
        await destroy_router(app, net_id or 0)
        with app.db.session() as s:
            net = s.get(Network, net_id)
            assert net is not None
            release_network(s, net)
            s.commit()
    with app.db.session() as s:
        for ip in s.exec(select(PublicIpAddress).where(PublicIpAddress.account_id == account_id)):
            free_ip(ip)
            s.add(ip)
        s.commit()


def forget_rows(s: Session, acct: Account) -> None:
    """Mark an account's users, keys, templates, tags and limits removed, then the account."""
    now = utcnow()
    for model in (User, SSHKeyPair, Template, ResourceTag, ResourceLimit):
        for row in s.exec(select(model).where(model.account_id == acct.id, model.removed == None)):  # type: ignore[attr-defined]
            row.removed = now
            s.add(row)
    for user in s.exec(select(User).where(User.account_id == acct.id)):
        user.apikey, user.secretkey = None, None
        s.add(user)
    acct.state, acct.removed = "removed", now
    s.add(acct)
    record_event(s, "ACCOUNT.DELETE", f"Deleted account {acct.name}", account_id=acct.id, domain_id=acct.domain_id)


async def delete_account(run: JobRun, account_id: int) -> None:
    """Remove an account and everything it owns; each step is safe to repeat if interrupted."""
    await expunge_vms(run, account_id)
    await delete_storage(run.app, account_id)
    await delete_networks(run.app, account_id)
    with run.db() as s:
        acct = s.get(Account, account_id)
        assert acct is not None
        forget_rows(s, acct)
        s.commit()


async def delete_domain(run: JobRun, domain_id: int) -> None:
    """Delete a domain's subtree: its accounts (with everything they own), then the domains, deepest first."""
    with run.db() as s:
        dom = s.get(Domain, domain_id)
        assert dom is not None
        doms = s.exec(select(Domain).where(Domain.path.startswith(dom.path), Domain.removed == None)).all()
        ids = [d.id for d in doms]
        accts = [
            a.id
            for a in s.exec(
                select(Account).where(
                    Account.domain_id.in_(ids),  # type: ignore[attr-defined]
                    Account.removed == None,
                )
            )
        ]
    for aid in accts:
        await delete_account(run, aid or 0)
    with run.db() as s:
        now = utcnow()
        for d in sorted(s.exec(select(Domain).where(Domain.id.in_(ids))).all(), key=lambda d: -d.level):  # type: ignore[union-attr]
            for lim in s.exec(select(ResourceLimit).where(ResourceLimit.domain_id == d.id)):
                lim.removed = now
                s.add(lim)
            d.removed, d.state = now, "Inactive"
            s.add(d)
        s.commit()
