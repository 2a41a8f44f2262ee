"""The "netns" router backend: real virtual routers (appliance/router) built from the database, and their health."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url
from sqlmodel import col, select
from virga.appliance.router.apply import RouterManager
from virga.appliance.router.errors import ApplyError, RouterConfigError, RouterError, RuleConflictError
from virga.appliance.router.model import RouterConfig
from virga.appliance.router.names import GUEST_IF, PUBLIC_IF, RouterNames
from virga.appliance.router.render import ROUTER_FILES
from virga.appliance.router.secgroups import SecurityGroupManager
from virga.config import data_dir
from virga.errors import InternalError, InvalidParameter, RuleConflict
from virga.models import Network, NetworkOffering, Router, Zone
from virga.services.events import raise_alert, record_event
from virga.services.network import backend_for
from virga.services.routercfg import router_config, security_group_config, short_id
from virga.services.states import RouterState

if TYPE_CHECKING:
    from virga.core import VirgaApp

log = logging.getLogger(__name__)


def state_dir(app: VirgaApp) -> Path:
    """Where routers keep their files: beside the SQLite database, else under the data directory."""
    url = make_url(app.settings.db_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent / "routers"
    return Path(os.environ.get("VIRGA_DATA_DIR") or data_dir()) / "routers"


def translate(exc: RouterError) -> Exception:
    """A router failure as an API error: conflicts 537, bad config 431, host failures 530."""
    if isinstance(exc, RuleConflictError):
        return RuleConflict(f"Network rule conflict: {exc}")
    if isinstance(exc, RouterConfigError):
        return InvalidParameter(f"The virtual router refused the configuration: {exc}")
    if isinstance(exc, ApplyError):
        return InternalError(f"Applying the virtual router failed (its previous rules stay in force): {exc}")
    return InternalError(f"Virtual router failure: {exc}")


def announce(cfg: RouterConfig) -> None:
    """Best effort: unsolicited ARP for a freshly built router's addresses, so peers drop the old legs' MACs."""
    tool = shutil.which("busybox") or shutil.which("arping")
    if tool is None:
        return
    base = [tool, "arping"] if tool.endswith("busybox") else [tool]
    ns = RouterNames(cfg.short_id).netns
    pairs = [(PUBLIC_IF, p.address) for p in cfg.public_ips] + [(GUEST_IF, cfg.gateway)]
    procs = [
        subprocess.Popen(
            ["ip", "netns", "exec", ns, *base, "-U", "-c", "1", "-I", dev, "-s", addr, addr],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for dev, addr in pairs
    ]
    for proc in procs:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _health(services: dict[str, bool | None]) -> dict[str, Any]:
    """Per-service health as stored on the router record."""
    return {name: ("up" if ok else "down") for name, ok in services.items() if ok is not None}


class NetnsRouters:
    """Routers of zones whose details say router=netns: one namespace per network on this host."""

    healthy_values: tuple[Any, ...] = ()  # "up" (HEALTHY) is its only healthy value

    def __init__(self) -> None:
        """Managers are made lazily, one per (state dir, host namespace)."""
        self._managers: dict[tuple[str, str | None], tuple[RouterManager, SecurityGroupManager]] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    def lock(self, network_id: int) -> asyncio.Lock:
        """One apply/destroy at a time per network (the config is read inside, so the last one wins)."""
        return self._locks.setdefault(network_id, asyncio.Lock())

    def managers(self, app: VirgaApp, zone: Zone) -> tuple[RouterManager, SecurityGroupManager]:
        """The router and security-group managers of a zone."""
        host_ns = (zone.details or {}).get("host_netns") or None
        key = (str(state_dir(app)), host_ns)
        if key not in self._managers:
            self._managers[key] = (
                RouterManager(key[0], host_netns=host_ns),
                SecurityGroupManager(key[0], host_netns=host_ns),
            )
        return self._managers[key]

    def _load(self, app: VirgaApp, network_id: int) -> tuple[Network, Zone, bool]:
        """A network, its zone and whether its offering has security groups."""
        with app.db.session() as s:
            net = s.get(Network, network_id)
            assert net is not None
            zone = s.get(Zone, net.zone_id)
            off = s.get(NetworkOffering, net.networkoffering_id)
            assert zone is not None and off is not None
            return net, zone, "SecurityGroup" in (off.services or {})

    async def sync(self, app: VirgaApp, network_id: int) -> dict[str, Any]:
        """Build the router (and security groups) from the database and apply them; return health."""
        async with self.lock(network_id):
            return await self._sync(app, network_id)

    async def _sync(self, app: VirgaApp, network_id: int) -> dict[str, Any]:
        """sync() under the network's lock."""
        net, zone, with_sg = self._load(app, network_id)
        mgr, sgm = self.managers(app, zone)
        with app.db.session() as s:
            cfg = router_config(s, s.get(Network, network_id))  # type: ignore[arg-type]
            sg_cfg = security_group_config(s, s.get(Network, network_id)) if with_sg else None  # type: ignore[arg-type]
        try:
            result = await mgr.apply(cfg)
            if any(c.startswith("netns ") for c in result.changes):
                await asyncio.to_thread(announce, cfg)
            if sg_cfg is not None:
                await sgm.apply(sg_cfg)
        except RouterError as exc:
            raise translate(exc) from exc
        return await self.health(app, zone, net, with_sg)

    async def health(self, app: VirgaApp, zone: Zone, net: Network, with_sg: bool = False) -> dict[str, Any]:
        """Per-service health of a network's router."""
        mgr, sgm = self.managers(app, zone)
        status = await mgr.status(net.uuid)
        health = _health(status.services)
        if with_sg:
            health["securitygroups"] = "up" if sgm.healthy(short_id(net)) else "down"
        return health

    async def destroy(self, app: VirgaApp, network_id: int) -> None:
        """Remove the router's namespace, links, processes, files and security-group table."""
        net, zone, with_sg = self._load(app, network_id)
        mgr, sgm = self.managers(app, zone)
        try:
            async with self.lock(network_id):
                await mgr.destroy(net.uuid)
            if with_sg:
                await sgm.destroy(short_id(net))
        except RouterError as exc:
            raise translate(exc) from exc

    async def rendered(self, app: VirgaApp, network_id: int) -> dict[str, str]:
        """The router's rendered files as they are on disk (state bookkeeping such as router.json excluded)."""
        net, zone, _ = self._load(app, network_id)
        rdir = self.managers(app, zone)[0].router_dir(net.uuid)
        return {name: (rdir / name).read_text() for name in ROUTER_FILES if (rdir / name).exists()}


async def check_routers(app: VirgaApp) -> None:
    """Periodic health check: heal netns routers, record what was restarted, re-apply vanished ones."""
    with app.db.session() as s:
        rows = s.exec(
            select(Router, Network, Zone)
            .join(Network, col(Network.id) == Router.network_id)
            .join(Zone, col(Zone.id) == Network.zone_id)
            .where(Router.removed == None, Router.state == RouterState.RUNNING)
        ).all()
    for router, net, zone in rows:
        backend = backend_for(app, zone)
        if not isinstance(backend, NetnsRouters):
            continue
        try:
            await _check_one(app, backend, router, net, zone)
        except Exception as exc:
            log.warning("health check of router %s failed: %s", router.name, exc)


async def _check_one(app: VirgaApp, backend: NetnsRouters, router: Router, net: Network, zone: Zone) -> None:
    """Heal one router and record alerts/events for each repair."""
    mgr = backend.managers(app, zone)[0]
    async with backend.lock(net.id or 0):
        actions = await mgr.heal(net.uuid)
    rebuilt = False
    if any(a.service == "netns" and not a.ok for a in actions):
        await backend.sync(app, net.id or 0)
        rebuilt = True
    health = await backend.health(app, zone, net)
    with app.db.session() as s:
        row = s.get(Router, router.id)
        if row is None:
            return
        row.health = {**(row.health or {}), **health}
        for a in actions:
            what = "rebuilt from the database" if rebuilt and a.service == "netns" else a.action
            text = f"Virtual router {row.name} of network {net.name}: {a.service} {what}"
            raise_alert(s, "DOMAIN_ROUTER", text, zone_id=zone.id)
            record_event(
                s,
                "ROUTER.HEALTH",
                text,
                account_id=row.account_id,
                domain_id=row.domain_id,
                resource=row,
                level="INFO" if a.ok or rebuilt else "ERROR",
            )
        s.add(row)
        s.commit()


def _netns_zones(app: VirgaApp) -> list[tuple[NetnsRouters, Zone]]:
    """Zones whose routers are real namespaces, with their backend."""
    with app.db.session() as s:
        zones = list(s.exec(select(Zone).where(Zone.removed == None)))
    pairs = [(backend_for(app, z), z) for z in zones]
    return [(b, z) for b, z in pairs if isinstance(b, NetnsRouters)]


async def reconcile_routers(app: VirgaApp) -> list[str]:
    """Make this host's routers match the database once: rebuild Running routers that are missing
    here (e.g. after a reboot) and remove routers whose network or router record is gone."""
    done: list[str] = []
    with app.db.session() as s:
        rows = s.exec(
            select(Router, Network)
            .join(Network, col(Network.id) == Router.network_id)
            .where(Router.removed == None, Network.removed == None)
        ).all()
        live = {net.uuid: (router.state, net.id or 0, net.name) for router, net in rows}
    for backend, zone in _netns_zones(app):
        mgr = backend.managers(app, zone)[0]
        on_disk = set(mgr.list_routers())
        for uuid, (state, net_id, name) in live.items():
            if state == RouterState.RUNNING and uuid not in on_disk and _in_zone(app, net_id, zone):
                await backend.sync(app, net_id)
                done.append(f"rebuilt router of network {name}")
        for uuid in sorted(on_disk - set(live)):
            await mgr.destroy(uuid)
            done.append(f"removed router of vanished network {uuid}")
    return done


def _in_zone(app: VirgaApp, network_id: int, zone: Zone) -> bool:
    """Whether a network belongs to a zone."""
    with app.db.session() as s:
        net = s.get(Network, network_id)
        return net is not None and net.zone_id == zone.id
