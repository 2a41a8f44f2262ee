"""Domains and accounts: every write of their commands, and the jobs that disable an account (stopping its
VMs) and delete an account or a domain's subtree with everything they own."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select
from virga.errors import InvalidParameter
from virga.jobs.engine import JobRun, Ref, Restart, job_body, job_recover
from virga.jobs.undo import UndoStack
from virga.models import (
    Account,
    Domain,
    Network,
    PublicIpAddress,
    ResourceLimit,
    ResourceTag,
    Role,
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
from virga.services.capacity import release_pool
from virga.services.events import record_event
from virga.services.states import AccountState, VmState, can, transition
from virga.services.users import add_user

if TYPE_CHECKING:
    from virga.core import VirgaApp

log = logging.getLogger(__name__)


def _vm_run(run: JobRun, vm: VirtualMachine, params: dict[str, Any]) -> JobRun:
    """A job view onto one VM, to reuse the VM job bodies inside an account job."""
    return JobRun(run.app, run.job_id, run.uuid, run.command, params, run.user_id, vm.uuid, UndoStack())


async def stop_vms(run: JobRun, account_id: int) -> None:
    """Stop every running VM of an account through the VM stop workflow."""
    from virga.services.vmpower import stop

    with run.db() as s:
        vms = s.exec(
            select(VirtualMachine).where(
                VirtualMachine.account_id == account_id, VirtualMachine.state == VmState.RUNNING
            )
        ).all()
        for vm in vms:
            transition(vm, "stop")
            s.add(vm)
        s.commit()
    for vm in vms:
        await stop(_vm_run(run, vm, {"forced": True}))


async def expunge_vms(run: JobRun, account_id: int) -> None:
    """Destroy and expunge every VM of an account through the VM destroy workflow."""
    from virga.services.vmlifecycle import destroy

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
                assert v.id is not None and sp.id is not None  # rows read back from the database
                targets.append((v.id, host_for_pool(s, sp), volume_spec(s, v), sp.id))
    for vol_id, host, spec, pool_id in targets:
        await (await app.hosts.driver(host)).delete_volume(spec)
        _forget_volume(app, vol_id, pool_id)
    with app.db.session() as s:
        now = utcnow()
        for v in s.exec(select(Volume).where(Volume.account_id == account_id, Volume.removed == None)):
            if can(v, "purge"):
                transition(v, "purge")
            v.removed, v.vm_id = now, None
            s.add(v)
        for vms in s.exec(select(VMSnapshot).where(VMSnapshot.account_id == account_id, VMSnapshot.removed == None)):
            if can(vms, "purge"):
                transition(vms, "purge")
            vms.removed = now
            s.add(vms)
        s.commit()


def _forget_volume(app: VirgaApp, vol_id: int, pool_id: int) -> None:
    """Mark a deleted volume removed and give its pool the bytes back."""
    with app.db.session() as s:
        vol = s.get(Volume, vol_id)
        assert vol is not None
        release_pool(s, pool_id, vol.size)
        if can(vol, "purge"):
            transition(vol, "purge")
        vol.removed, vol.vm_id = utcnow(), None
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
        for row in s.exec(select(model).where(model.account_id == acct.id, model.removed == None)):
            row.removed = now
            s.add(row)
    for user in s.exec(select(User).where(User.account_id == acct.id)):
        user.apikey, user.secretkey = None, None
        s.add(user)
    transition(acct, "remove")
    acct.removed = now
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
                    col(Account.domain_id).in_(ids),
                    Account.removed == None,
                )
            )
        ]
    for aid in accts:
        await delete_account(run, aid or 0)
    with run.db() as s:
        now = utcnow()
        for d in sorted(s.exec(select(Domain).where(col(Domain.id).in_(ids))).all(), key=lambda d: -d.level):
            for lim in s.exec(select(ResourceLimit).where(ResourceLimit.domain_id == d.id)):
                lim.removed = now
                s.add(lim)
            transition(d, "remove")
            d.removed = now
            s.add(d)
        s.commit()


# --- the jobs ------------------------------------------------------------------------------------------------


@job_body("disableAccount", restart=Restart.RECONCILE)
async def disable_body(run: JobRun) -> Ref:
    """Stop the VMs of a disabled account (a lock stops nothing); answer the account."""
    if run.params.get("stop"):
        await stop_vms(run, int(run.params["account_id"]))
    return Ref(Account, run.instance_uuid)


@job_recover("disableAccount")
async def recover_disable(run: JobRun) -> None:
    """A disable whose server died: each VM it was stopping gets its state from what its host reports."""
    from virga.services.vmpower import recover_start

    with run.db() as s:
        vms = s.exec(
            select(VirtualMachine).where(
                VirtualMachine.account_id == int(run.params["account_id"]),
                VirtualMachine.state == VmState.STOPPING,
                VirtualMachine.removed == None,
            )
        ).all()
    for vm in vms:
        await recover_start(_vm_run(run, vm, {}))


@job_body("deleteAccount", restart=Restart.RECONCILE)
async def delete_account_body(run: JobRun) -> dict[str, Any]:
    """Expunge the account's VMs, delete its storage and networks, then the account and its users."""
    await delete_account(run, int(run.params["account_id"]))
    return {"success": True}


@job_recover("deleteAccount")
async def recover_delete_account(run: JobRun) -> None:
    """A deletion whose server died: finish it (every step of delete_account is safe to repeat)."""
    with run.db() as s:
        acct = s.get(Account, int(run.params["account_id"]))
        if acct is None or acct.removed is not None:
            return
    await delete_account(run, int(run.params["account_id"]))


@job_body("deleteDomain", restart=Restart.RECONCILE)
async def delete_domain_body(run: JobRun) -> dict[str, Any]:
    """Remove the subtree with everything its accounts own."""
    await delete_domain(run, int(run.params["domain_id"]))
    return {"success": True}


@job_recover("deleteDomain")
async def recover_delete_domain(run: JobRun) -> None:
    """A subtree deletion whose server died: finish it (accounts already removed are skipped)."""
    with run.db() as s:
        dom = s.get(Domain, int(run.params["domain_id"]))
        if dom is None or dom.removed is not None:
            return
    await delete_domain(run, int(run.params["domain_id"]))


# --- the synchronous parts of the commands -----------------------------------------------------------------

ACCOUNT_EVENTS = {"enable": "ACCOUNT.ENABLE", "disable": "ACCOUNT.DISABLE", "lock": "ACCOUNT.LOCK"}


def create_domain(
    s: Session, caller: User, parent: Domain, name: str, *, networkdomain: str | None, uuid: str | None
) -> Domain:
    """createDomain: a domain under a parent (uuid: the one the caller chose)."""
    dom = Domain(
        name=name,
        parent_id=parent.id,
        path=f"{parent.path}{name}/",
        level=parent.level + 1,
        networkdomain=networkdomain,
    )
    if uuid:
        if s.exec(select(Domain).where(Domain.uuid == uuid)).first() is not None:
            raise InvalidParameter(f"A domain with id {uuid} already exists (parameter domainid)")
        dom.uuid = uuid
    s.add(dom)
    s.flush()
    record_event(
        s,
        "DOMAIN.CREATE",
        f"Created domain {dom.name}",
        account_id=caller.account_id,
        domain_id=dom.id,
        user_id=caller.id,
        resource=dom,
    )
    return dom


def update_domain(
    s: Session, dom: Domain, parent: Domain | None, name: str | None, networkdomain: str | None
) -> Domain:
    """updateDomain: a rename under its parent (its descendants' paths follow) and a network domain ("" clears)."""
    if parent is not None and name:
        old, new = dom.path, f"{parent.path}{name}/"
        for d in s.exec(select(Domain).where(Domain.path.startswith(old))):
            d.path = new + d.path[len(old) :]
            s.add(d)
        dom.name = name
    if networkdomain is not None:
        dom.networkdomain = networkdomain or None
    s.add(dom)
    return dom


def create_account(
    s: Session,
    caller: User,
    dom: Domain,
    name: str,
    kind: int,
    role: Role,
    networkdomain: str | None,
    username: str,
    password_hash: str,
    details: dict[str, Any],
) -> Account:
    """createAccount: an account in a domain with its first user."""
    acct = Account(
        name=name, domain_id=dom.id or 0, accounttype=kind, role_id=role.id or 0, networkdomain=networkdomain
    )
    s.add(acct)
    s.flush()
    add_user(s, acct, username, password_hash, **details)
    record_event(
        s, "ACCOUNT.CREATE", f"Created account {name}", account_id=acct.id, domain_id=dom.id, user_id=caller.id
    )
    return acct


def update_account(
    s: Session, acct: Account, *, newname: str | None, networkdomain: str | None, role: Role | None
) -> Account:
    """updateAccount: a new name, network domain ("" clears) or role (None: unchanged)."""
    if newname:
        acct.name = newname
    if networkdomain is not None:
        acct.networkdomain = networkdomain or None
    if role is not None:
        acct.role_id = role.id or 0
    s.add(acct)
    return acct


def set_account_state(s: Session, caller: User, acct: Account, event: str) -> Account:
    """enableAccount, lockAccount, disableAccount's first step (event enable, lock or disable), with its event."""
    state = transition(acct, event)
    s.add(acct)
    record_event(
        s,
        ACCOUNT_EVENTS[event],
        f"Account {acct.name} is {state}",
        account_id=acct.id,
        domain_id=acct.domain_id,
        user_id=caller.id,
    )
    return acct


def start_deletion(s: Session, acct: Account) -> None:
    """deleteAccount's first step: the account is disabled at once (its job removes it)."""
    if acct.state != AccountState.DISABLED:
        transition(acct, "disable")
    s.add(acct)
