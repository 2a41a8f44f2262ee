"""Recover steps of the account jobs: a disable or a deletion whose server died is reconciled on restart."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.drivers.simulator.world import WORLD
from virga.models import Account, AsyncJob, Domain, VirtualMachine

from tests.api.storage_helpers import deploy, user_client
from tests.factories import Cloud, make_domain, make_user


def _row(app: VirgaApp, model: Any, **where: Any) -> Any:
    """One row as the database holds it now."""
    with app.db.session() as s:
        stmt = select(model)
        for k, v in where.items():
            stmt = stmt.where(getattr(model, k) == v)
        return s.exec(stmt).one()


def _set_state(app: VirgaApp, model: Any, uuid: str, state: str) -> None:
    """Put a row in the state a job's body left it in before its server died (the test stands in for the body)."""
    with app.db.session() as s:
        row = s.exec(select(model).where(model.uuid == uuid)).one()
        row.state = state
        s.add(row)
        s.commit()


async def _died(app: VirgaApp, command: str, instance_uuid: str, params: dict[str, Any]) -> None:
    """A job this server was running when it died: recover it as a restart does; it ends failed (530)."""
    with app.db.session() as s:
        job = AsyncJob(
            cmd=f"virga.api.{command}",
            command=command,
            params=params,
            instance_uuid=instance_uuid,
            state="running",
            owner=app.jobs.owner,
        )
        s.add(job)
        s.commit()
        job_id = job.id
    await app.jobs.recover()
    with app.db.session() as s:
        done = s.get(AsyncJob, job_id)
        assert done is not None and done.status == 2 and done.resultcode == 530


async def test_interrupted_disable_takes_each_vm_state_from_its_host(
    app: VirgaApp, admin: VirgaClient, cloud: Cloud
) -> None:
    erin = await user_client(app, "erin")
    vm = await deploy(app, erin, cloud, "erin")
    gone = await deploy(app, erin, cloud, "erin", net=vm["nic"][0]["networkid"], name="gone")
    await (await app.hosts.driver(_host(app, gone["id"]))).stop_instance(gone["id"], force=True)
    acct = _row(app, Account, name="erin")
    _set_state(app, Account, acct.uuid, "disabled")  # the synchronous part
    for uuid in (vm["id"], gone["id"]):
        _set_state(app, VirtualMachine, uuid, "Stopping")  # the body's first step, then the server died
    await _died(app, "disableAccount", acct.uuid, {"account_id": acct.id, "stop": True})
    assert _row(app, VirtualMachine, uuid=vm["id"]).state == "Running"  # its guest still runs
    stopped = _row(app, VirtualMachine, uuid=gone["id"])
    assert stopped.state == "Stopped" and stopped.host_id is None
    assert _row(app, Account, id=acct.id).state == "disabled"
    await erin.close()


def _host(app: VirgaApp, vm_uuid: str) -> Any:
    """The host a VM runs on."""
    from virga.models import Host

    with app.db.session() as s:
        vm = s.exec(select(VirtualMachine).where(VirtualMachine.uuid == vm_uuid)).one()
        return s.get(Host, vm.host_id)


async def test_interrupted_account_deletion_is_finished(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    frank = await user_client(app, "frank")
    vm = await deploy(app, frank, cloud, "frank")
    acct = _row(app, Account, name="frank")
    _set_state(app, Account, acct.uuid, "disabled")  # deleteAccount's synchronous part, then the server died
    await _died(app, "deleteAccount", acct.uuid, {"account_id": acct.id})
    after = _row(app, Account, id=acct.id)
    assert after.state == "removed" and after.removed is not None
    assert _row(app, VirtualMachine, uuid=vm["id"]).removed is not None
    assert vm["id"] not in WORLD.guests
    await frank.close()


async def test_interrupted_domain_deletion_is_finished(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    make_domain(app, "gone")
    make_user(app, "gina", domain_path="/gone/")
    dom = _row(app, Domain, name="gone")
    await _died(app, "deleteDomain", dom.uuid, {"domain_id": dom.id})
    assert _row(app, Domain, id=dom.id).state == "Inactive"
    assert _row(app, Account, name="gina").state == "removed"
