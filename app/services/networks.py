"""Guest network commands' writes and jobs: create, update, delete and restart (the router follows the database)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select
from virga.errors import InsufficientCapacity
from virga.jobs.engine import JobRun, Ref, Restart, job_body, job_recover
from virga.models import Network, PhysicalNetwork, Zone
from virga.services.network import destroy_router, implement, rebuild_router, release_network, sync_router
from virga.services.rules import resync
from virga.services.states import transition

if TYPE_CHECKING:
    from virga.context import Ctx

MAX_VNI = 16777215


def _segment(s: Session, zone: Zone) -> tuple[PhysicalNetwork | None, str, str]:
    """Physical network and broadcast URI of a new isolated network (takes the physical network's next VNI/VLAN)."""
    pn = s.exec(
        select(PhysicalNetwork)
        .where(PhysicalNetwork.zone_id == zone.id, PhysicalNetwork.removed == None)
        .order_by(col(PhysicalNetwork.id))
    ).first()
    if pn is None:
        return None, "", ""
    low, high = 1000, MAX_VNI
    m = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", pn.vlan or "")
    if m:
        low, high = int(m.group(1)), int(m.group(2))
    vni = max(pn.next_vni, low)
    if vni > high:
        raise InsufficientCapacity(f"Physical network {pn.name} has no free VNI/VLAN left in {pn.vlan}")
    pn.next_vni = vni + 1
    s.add(pn)
    scheme = "vlan" if "VLAN" in (pn.isolationmethods or "").upper().split(",") else "vxlan"
    return pn, f"{scheme}://{vni}", str(vni)


def create_network(ctx: Ctx, zone: Zone, fields: dict[str, Any], *, segment: bool) -> Network:
    """Record a checked guest network (Allocated); an isolated one (segment) takes the next VNI/VLAN."""
    net = Network(**fields)
    if segment:
        pn, net.broadcasturi, net.vlan = _segment(ctx.db, zone)
        net.physicalnetwork_id = pn.id if pn else None
    ctx.db.add(net)
    ctx.db.flush()
    return net


def update_network(ctx: Ctx, net: Network, changes: dict[str, Any]) -> None:
    """Change a network's record (its job re-applies the router)."""
    for key, value in changes.items():
        setattr(net, key, value)
    ctx.db.add(net)


def mark_deleted(ctx: Ctx, net: Network) -> None:
    """Move a network to Destroy (its job tears it down)."""
    transition(net, "destroy")
    ctx.db.add(net)


def prepare_restart(ctx: Ctx, net: Network) -> None:
    """Implement an Allocated network and clear its restart-required flag (its job applies the router)."""
    implement(ctx.db, net)
    net.restartrequired = False
    ctx.db.add(net)


def _network_id(run: JobRun) -> int:
    """The internal id of the job's network."""
    with run.db() as s:
        return s.exec(select(Network.id).where(Network.uuid == run.instance_uuid)).one() or 0


@job_body("updateNetwork", restart=Restart.RECONCILE)
async def update_body(run: JobRun) -> Ref:
    """Re-apply the router after an update."""
    await sync_router(run.app, _network_id(run))
    return Ref(Network, run.instance_uuid)


@job_body("deleteNetwork", restart=Restart.RECONCILE)
async def delete_body(run: JobRun) -> dict[str, Any]:
    """Remove the router, free the public IPs and rules, and mark the network removed."""
    net_id = _network_id(run)
    await destroy_router(run.app, net_id)
    with run.db() as s:
        net = s.get(Network, net_id)
        assert net is not None
        release_network(s, net)
        s.commit()
    return {"success": True}


@job_body("restartNetwork", restart=Restart.RECONCILE)
async def restart_body(run: JobRun) -> Ref:
    """Re-apply the router, or (cleanup) destroy and rebuild it from the database."""
    net_id = _network_id(run)
    if run.params.get("cleanup"):
        await rebuild_router(run.app, net_id)
    else:
        await sync_router(run.app, net_id)
    return Ref(Network, run.instance_uuid)


@job_recover("restartNetwork")
@job_recover("updateNetwork")
async def recover_restart(run: JobRun) -> None:
    """The server died mid-restart: make the router match the database again."""
    await resync(run.app, _network_id(run))


@job_recover("deleteNetwork")
async def recover_delete(run: JobRun) -> None:
    """The server died mid-delete: finish the teardown (every step is idempotent)."""
    await delete_body(run)
