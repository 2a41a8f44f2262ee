"""Guest network implementation: source NAT, the virtual router record, and router backends."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from sqlmodel import Session, select
from virga import plugins
from virga.models import (
    FirewallRule,
    LoadBalancerMember,
    LoadBalancerRule,
    Network,
    NetworkOffering,
    PortForwardingRule,
    PublicIpAddress,
    Router,
    Zone,
    utcnow,
)
from virga.services import ipam
from virga.services.events import record_event
from virga.services.states import NetworkState, RouterState, can, transition

if TYPE_CHECKING:
    from virga.core import VirgaApp

log = logging.getLogger(__name__)

# zone.details["router"] names a RouterBackend class registered in the entry-point group
# virga.router_backends (virga.plugins; "simulated" and "netns" in pyproject.toml). The key is zone data
# (createZone details): core code never branches on it, it only loads the class the zone names.
DEFAULT_BACKEND = "simulated"  # a zone that names none
HEALTHY = ("up", True)  # a service health value every backend reports for a working service


class RouterBackend(Protocol):
    """Makes a network's router match the database (optionally: `health(app, zone, net)` for live health)."""

    healthy_values: tuple[Any, ...]  # health values, beyond HEALTHY, that mean a service works

    async def sync(self, app: VirgaApp, network_id: int) -> dict[str, Any]:
        """Apply the network's desired state; return per-service health."""

    async def destroy(self, app: VirgaApp, network_id: int) -> None:
        """Remove the network's router entirely."""


def backend_for(app: VirgaApp, zone: Zone) -> RouterBackend:
    """The router backend a zone uses (cached per kind on the app)."""
    kind = (zone.details or {}).get("router", DEFAULT_BACKEND)
    key = f"router:{kind}"
    if key not in app.extensions:
        app.extensions[key] = plugins.load(plugins.ROUTER_BACKENDS, kind)()
    backend: RouterBackend = app.extensions[key]
    return backend


def is_healthy(app: VirgaApp, zone: Zone | None, value: Any) -> bool:
    """Whether a recorded service health value means the service works (as the zone's backend reports it)."""
    if value in HEALTHY:
        return True
    return zone is not None and value in getattr(backend_for(app, zone), "healthy_values", ())


def offering_of(s: Session, net: Network) -> NetworkOffering:
    """A network's offering."""
    off = s.get(NetworkOffering, net.networkoffering_id)
    assert off is not None
    return off


_SERVICES: dict[int, dict[str, Any]] = {}


def services_of(s: Session, net: Network) -> dict[str, Any]:
    """The services of a network's offering, read once per process: an offering's services never change
    (updateNetworkOffering edits only names, state and availability), so every server may keep them."""
    found = _SERVICES.get(net.networkoffering_id)
    if found is None:
        found = _SERVICES[net.networkoffering_id] = dict(offering_of(s, net).services or {})
    return found


def needs_router(s: Session, net: Network) -> bool:
    """Whether the network's offering has services a virtual router provides."""
    return bool(services_of(s, net))


def implement(s: Session, net: Network) -> bool:
    """Acquire source NAT and create the router record of an Allocated network; True if it changed."""
    if net.state not in (NetworkState.ALLOCATED, NetworkState.SHUTDOWN):
        return False
    transition(net, "implement")
    off = offering_of(s, net)
    if net.guestiptype == "Isolated" and "SourceNat" in off.services:
        ip = ipam.allocate_public_ip(s, net.zone_id)
        transition(ip, "allocate")
        ip.issourcenat, ip.network_id = True, net.id
        ip.account_id, ip.domain_id = net.account_id, net.domain_id
        s.add(ip)
        s.flush()  # source_nat_ip below reads it back
    if (
        needs_router(s, net)
        and s.exec(select(Router).where(Router.network_id == net.id, Router.removed == None)).first() is None
    ):
        snat = source_nat_ip(s, net)
        s.add(
            Router(
                name=f"r-{net.id}-VM",
                network_id=net.id or 0,
                zone_id=net.zone_id,
                account_id=net.account_id,
                domain_id=net.domain_id,
                state=RouterState.STARTING,
                publicip=snat.ipaddress if snat else "",
                guestipaddress=net.gateway,
            )
        )
    transition(net, "implemented")
    s.add(net)
    record_event(
        s,
        "NETWORK.IMPLEMENT",
        f"Implemented network {net.name}",
        account_id=net.account_id,
        domain_id=net.domain_id,
        resource=net,
    )
    return True


def source_nat_ip(s: Session, net: Network) -> PublicIpAddress | None:
    """The network's source NAT IP."""
    return s.exec(
        select(PublicIpAddress).where(PublicIpAddress.network_id == net.id, PublicIpAddress.issourcenat == True)
    ).first()


async def sync_router(app: VirgaApp, network_id: int) -> None:
    """Make a network's router match the database as it is now (concurrent calls share one sync).

    Callers only need a sync that starts after they ask: while one runs, every new caller waits for a
    single follow-up sync, so N deploys landing on one network at once cost two syncs, not N.
    """
    flights: dict[int, _Flight] = app.extensions.setdefault("router-sync", {})
    flight = flights.setdefault(network_id, _Flight())
    await asyncio.shield(flight.join(lambda: _sync_router_once(app, network_id)))


class _Flight:
    """One network's router syncs: at most one running and one queued behind it.

    Syncs run as their own tasks, so a cancelled caller never cancels a sync others wait for.
    """

    def __init__(self) -> None:
        """No sync running or queued."""
        self.running: asyncio.Task[None] | None = None
        self.queued: asyncio.Task[None] | None = None

    def join(self, sync: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        """The sync a new caller waits for: the one queued behind the running one, or a new one."""
        if self.queued is not None:
            return self.queued
        if self.running is None or self.running.done():
            self.running = asyncio.ensure_future(self._guarded(sync))
            return self.running
        self.queued = asyncio.ensure_future(self._after(self.running, sync))
        return self.queued

    async def _after(self, prev: asyncio.Task[None], sync: Callable[[], Awaitable[None]]) -> None:
        """Wait for the running sync, then become the running one (later callers queue behind it)."""
        await asyncio.wait([prev])
        self.queued, self.running = None, asyncio.current_task()
        await self._guarded(sync)

    @staticmethod
    async def _guarded(sync: Callable[[], Awaitable[None]]) -> None:
        """Run one sync; its error goes to every waiter (and is logged if none is left)."""
        try:
            await sync()
        except Exception as exc:
            log.warning("router sync failed: %s", exc)
            raise


async def _sync_router_once(app: VirgaApp, network_id: int) -> None:
    """Apply a network's rules and leases through its zone's router backend and record health."""
    with app.db.session() as s:
        net = s.get(Network, network_id)
        if net is None or not needs_router(s, net) or net.state != NetworkState.IMPLEMENTED:
            return
        zone = s.get(Zone, net.zone_id)
        assert zone is not None
        router = _live_router(s, network_id)
        if router is not None and router.state == RouterState.STOPPED:
            return
    health = await backend_for(app, zone).sync(app, network_id)
    if router is None or (router.state == RouterState.RUNNING and router.health == health):
        return  # nothing to record
    with app.db.session() as s:
        router = _live_router(s, network_id)
        if router is not None and can(router, "running"):
            transition(router, "running")
            router.health = health
            s.add(router)
            s.commit()


async def destroy_router(app: VirgaApp, network_id: int) -> None:
    """Remove a network's router through its backend and mark the record removed."""
    with app.db.session() as s:
        net = s.get(Network, network_id)
        zone = s.get(Zone, net.zone_id) if net else None
    if zone is not None:
        await backend_for(app, zone).destroy(app, network_id)
    with app.db.session() as s:
        for router in s.exec(select(Router).where(Router.network_id == network_id, Router.removed == None)):
            transition(router, "destroy")
            router.removed = utcnow()
            s.add(router)
        s.commit()


def _live_router(s: Session, network_id: int) -> Router | None:
    """A network's live router record."""
    router: Router | None = s.exec(
        select(Router).where(Router.network_id == network_id, Router.removed == None)
    ).first()
    return router


def router_state(s: Session, network_id: int) -> str | None:
    """The state of a network's live router record, or None when it has none."""
    router = _live_router(s, network_id)
    return router.state if router is not None else None


def _set_router(app: VirgaApp, network_id: int, event: str, health: dict[str, Any] | None = None) -> None:
    """Move a router's state by an event (and record its health)."""
    with app.db.session() as s:
        router = _live_router(s, network_id)
        if router is not None:
            transition(router, event)
            if health is not None:
                router.health = health
            s.add(router)
            s.commit()


async def rebuild_router(app: VirgaApp, network_id: int) -> None:
    """Tear a network's router down and build it again from the database (restart with cleanup, reboot)."""
    with app.db.session() as s:
        net = s.get(Network, network_id)
        zone = s.get(Zone, net.zone_id) if net else None
    if zone is None:
        return
    await backend_for(app, zone).destroy(app, network_id)
    _set_router(app, network_id, "starting")
    await sync_router(app, network_id)


async def stop_router(app: VirgaApp, network_id: int) -> None:
    """Remove a router from its host but keep the record, Stopped (rules are applied again on start)."""
    with app.db.session() as s:
        net = s.get(Network, network_id)
        zone = s.get(Zone, net.zone_id) if net else None
    if zone is not None:
        await backend_for(app, zone).destroy(app, network_id)
    _set_router(app, network_id, "stopped", {})


async def start_router(app: VirgaApp, network_id: int) -> None:
    """Apply a stopped router again from the database."""
    _set_router(app, network_id, "starting")
    await sync_router(app, network_id)


def free_ip(ip: PublicIpAddress) -> None:
    """Return a public IP to its range's free pool."""
    transition(ip, "free")
    ip.network_id, ip.account_id, ip.domain_id = None, None, None
    ip.issourcenat, ip.isstaticnat, ip.vm_id, ip.vm_ip = False, False, None, None


def remove_rules(s: Session, *, network_id: int | None = None, ip_id: int | None = None) -> None:
    """Mark the firewall, port forwarding and LB rules (and LB members) of a network or an IP removed."""
    now = utcnow()
    for model in (FirewallRule, PortForwardingRule, LoadBalancerRule):
        col = model.network_id if network_id is not None else model.ipaddress_id
        for rule in s.exec(
            select(model).where(col == (network_id if network_id is not None else ip_id), model.removed == None)
        ):
            rule.removed = now
            transition(rule, "retire")
            s.add(rule)
            if isinstance(rule, LoadBalancerRule):
                for m in s.exec(
                    select(LoadBalancerMember).where(
                        LoadBalancerMember.rule_id == rule.id, LoadBalancerMember.removed == None
                    )
                ):
                    m.removed = now
                    s.add(m)


def release_network(s: Session, net: Network) -> None:
    """Free a deleted network's public IPs and rules and mark it removed."""
    remove_rules(s, network_id=net.id)
    for ip in s.exec(select(PublicIpAddress).where(PublicIpAddress.network_id == net.id)):
        free_ip(ip)
        s.add(ip)
    net.removed = utcnow()
    s.add(net)
    record_event(
        s,
        "NETWORK.DELETE",
        f"Deleted network {net.name}",
        account_id=net.account_id,
        domain_id=net.domain_id,
        resource=net,
    )
