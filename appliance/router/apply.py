"""RouterManager: make the host match a RouterConfig, idempotently; destroy, status and heal."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from virga.appliance.router import filelock, links, services
from virga.appliance.router.errors import ApplyError, RouterError
from virga.appliance.router.model import RouterConfig
from virga.appliance.router.render import link_plan, render_router
from virga.appliance.router.validate import validate_router

STATE = "router.json"


@dataclass(frozen=True)
class ApplyResult:
    """What one apply changed (empty `changes` means the host already matched)."""

    network_uuid: str
    changes: tuple[str, ...]


@dataclass(frozen=True)
class RouterStatus:
    """Per-service health of one router (None: the service is not configured)."""

    network_uuid: str
    exists: bool
    services: dict[str, bool | None] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        """Whether every configured service is up."""
        return self.exists and all(v for v in self.services.values() if v is not None)


@dataclass(frozen=True)
class HealAction:
    """One repair heal() made (or could not make)."""

    network_uuid: str
    service: str
    action: str
    ok: bool = True


def _sha(text: str) -> str:
    """sha256 of a text."""
    return hashlib.sha256(text.encode()).hexdigest()


class RouterManager:
    """Virtual routers of one host, their files under state_dir; bridges live in host_netns."""

    def __init__(self, state_dir: str | Path, host_netns: str | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.host_netns = host_netns
        self.hub = services.MetadataHub(self.state_dir)
        self._linked: dict[str, tuple[str, int | None]] = {}

    def router_dir(self, network_uuid: str) -> Path:
        """Where one router's rendered files and pidfiles live."""
        return self.state_dir / network_uuid

    def lock_file(self, network_uuid: str) -> Path:
        """The file whose flock serialises changes to one router across processes."""
        return filelock.lock_path(self.state_dir, network_uuid)

    async def apply(self, cfg: RouterConfig) -> ApplyResult:
        """Validate, render and converge one router; raises RouterConfigError before touching anything."""
        validate_router(cfg)
        async with filelock.held_async(self.lock_file(cfg.network_uuid)):
            return await asyncio.to_thread(self._apply_valid, cfg)

    async def destroy(self, network_uuid: str) -> bool:
        """Remove a router's namespace, links, processes and files; return whether it existed."""
        async with filelock.held_async(self.lock_file(network_uuid)):
            return await asyncio.to_thread(self._destroy, network_uuid)

    async def status(self, network_uuid: str) -> RouterStatus:
        """Per-service health of one router."""
        return await asyncio.to_thread(self.status_sync, network_uuid)

    async def heal(self, network_uuid: str | None = None) -> list[HealAction]:
        """Restart dead services of one router (or all); return what was done."""
        actions: list[HealAction] = []
        for uuid in [network_uuid] if network_uuid else self.list_routers():
            async with filelock.held_async(self.lock_file(uuid)):
                actions += await asyncio.to_thread(self._heal_one, uuid)
        return actions

    def list_routers(self) -> list[str]:
        """Network uuids of the routers this manager holds."""
        return sorted(p.parent.name for p in self.state_dir.glob(f"*/{STATE}"))

    def apply_sync(self, cfg: RouterConfig) -> ApplyResult:
        """Blocking apply; a fresh router that fails half-way is destroyed again (undo)."""
        validate_router(cfg)
        with filelock.held(self.lock_file(cfg.network_uuid)):
            return self._apply_valid(cfg)

    def _apply_valid(self, cfg: RouterConfig) -> ApplyResult:
        """apply_sync() of a config already validated, under the router's lock."""
        rdir = self.router_dir(cfg.network_uuid)
        fresh = not (rdir / STATE).exists()
        try:
            with links.session():
                changes = self._converge(cfg, rdir)
        except Exception as exc:
            if fresh:
                self._destroy(cfg.network_uuid)
            if isinstance(exc, RouterError):
                raise
            raise ApplyError(f"applying router {cfg.network_uuid}: {exc}") from exc
        return ApplyResult(cfg.network_uuid, tuple(changes))

    def _converge(self, cfg: RouterConfig, rdir: Path) -> list[str]:
        """Every idempotent step, in order; returns the changes made."""
        rdir.mkdir(parents=True, exist_ok=True)
        self._current = rdir
        self.state_dir.chmod(0o755)
        files = render_router(cfg, str(rdir))
        plan = link_plan(cfg)
        state: dict[str, object] = {"network_uuid": cfg.network_uuid, "host_netns": self.host_netns, "plan": plan}
        changes = self._write_state(rdir, state)
        changes += self._links(plan)
        nft_changed = self._write(rdir, "nftables.nft", files["nftables.nft"], commit=False)
        if nft_changed or not services.nft_live(plan["netns"]):
            services.load_ruleset(plan["netns"], files["nftables.nft"])
            self._write(rdir, "nftables.nft", files["nftables.nft"])
            changes.append("nftables loaded")
        changes += self._dnsmasq(rdir, plan["netns"], files)
        changes += self._haproxy(rdir, plan["netns"], files["haproxy.cfg"])
        changes += self._metadata(cfg, rdir, plan["netns"], files)
        return changes

    def _write_state(self, rdir: Path, state: dict[str, object]) -> list[str]:
        """Record what destroy needs (names, host namespace, which bridges we created)."""
        old = self._state(rdir.name) or {}
        state["created_bridges"] = old.get("created_bridges", [])
        self._write(rdir, STATE, json.dumps(state, indent=2, sort_keys=True) + "\n")
        return []

    def _state(self, network_uuid: str) -> dict | None:
        """The recorded state of a router, or None."""
        try:
            return json.loads((self.router_dir(network_uuid) / STATE).read_text())
        except (OSError, ValueError):
            return None

    def _write(self, rdir: Path, name: str, text: str, commit: bool = True) -> bool:
        """Write a file when its content differs; return whether it differed."""
        path = rdir / name
        try:
            if path.read_text() == text:
                return False
        except OSError:
            pass
        if commit:
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_text(text)
            tmp.replace(path)
        return True

    def _links(self, plan: dict) -> list[str]:
        """Sync the links, unless this manager already synced the same plan into the same namespace
        and every link is still there and up (a change of rules then costs no netlink work)."""
        key = json.dumps(plan, sort_keys=True)
        if self._linked.get(plan["netns"]) == (key, links.netns_id(plan["netns"])) and self._links_up(plan):
            return []
        changes = self._sync_links(plan)
        self._linked[plan["netns"]] = (key, links.netns_id(plan["netns"]))
        return changes

    def _links_up(self, plan: dict) -> bool:
        """Whether the bridges, veth legs and VXLAN/VLAN links of a plan all exist and are up."""
        host = [plan[side][key] for side in ("guest", "public") for key in ("bridge", "host_leg")]
        host += [plan[extra]["name"] for extra in ("vxlan", "vlan") if plan[extra]]
        router = ["lo"] + [plan[side]["router_leg"] for side in ("guest", "public")]
        return links.links_up(self.host_netns, host) and links.links_up(plan["netns"], router)

    def _sync_links(self, plan: dict) -> list[str]:
        """Namespace, bridges, veth legs, addresses, route, sysctls, VXLAN/VLAN."""
        changes, ns, host = [], plan["netns"], self.host_netns
        if links.ensure_netns(ns):
            changes.append(f"netns {ns} created")
        for side in ("guest", "public"):
            leg = plan[side]
            if links.ensure_bridge(host, leg["bridge"]):
                changes.append(f"bridge {leg['bridge']} created")
                if side == "guest":
                    self._note_bridge(leg["bridge"])
            if links.ensure_leg(host, leg["bridge"], leg, ns):
                changes.append(f"veth {leg['host_leg']} created")
            addrs = links.sync_addresses(ns, leg["router_leg"], leg["addresses"])
            changes += [f"{leg['router_leg']} {c}" for c in addrs]
        if links.sync_default_route(ns, plan["default_route"]):
            changes.append(f"default route via {plan['default_route']}")
        changes += [f"sysctl {c}" for c in links.enable_forwarding(ns, plan["sysctl"])]
        if plan["vxlan"]:
            changes += links.ensure_vxlan(host, plan["guest"]["bridge"], plan["vxlan"])
        if plan["vlan"]:
            changes += links.ensure_vlan(host, plan["guest"]["bridge"], plan["vlan"])
        return changes

    def _note_bridge(self, bridge: str) -> None:
        """Remember a guest bridge this router created (destroy removes it when nothing else uses it)."""
        path = self._current / STATE
        state = json.loads(path.read_text())
        state["created_bridges"] = sorted(set(state["created_bridges"]) | {bridge})
        path.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")

    def _dnsmasq(self, rdir: Path, ns: str, files: dict[str, str]) -> list[str]:
        """Write dnsmasq files; restart on a conf change or when dead, SIGHUP on lease changes."""
        conf = self._write(rdir, "dnsmasq.conf", files["dnsmasq.conf"])
        hosts = [self._write(rdir, name, files[name]) for name in ("dhcp-hosts", "hosts")]
        if conf or not services.dnsmasq_up(rdir):
            services.start_dnsmasq(rdir, ns)
            return ["dnsmasq started"]
        if any(hosts):
            services.reload_dnsmasq(rdir)
            return ["dnsmasq reloaded"]
        return []

    def _haproxy(self, rdir: Path, ns: str, text: str) -> list[str]:
        """Run haproxy only when there are LB rules; reload it live when its config changes."""
        if not text:
            (rdir / "haproxy.cfg").unlink(missing_ok=True)
            return ["haproxy stopped"] if services.stop_haproxy(rdir) else []
        changed = self._write(rdir, "haproxy.cfg", text)
        if not services.haproxy_up(rdir):
            services.start_haproxy(rdir, ns)
            return ["haproxy started"]
        if changed:
            services.start_haproxy(rdir, ns, reload=True)
            return ["haproxy reloaded"]
        return []

    def _metadata(self, cfg: RouterConfig, rdir: Path, ns: str, files: dict[str, str]) -> list[str]:
        """Publish metadata.json (and links.json) and make sure the hub serves it in this namespace."""
        text = files["metadata.json"]
        changed = self._write(rdir, "metadata.json", text)
        self._write(rdir, "links.json", files["links.json"])
        if not changed and self.hub.serves(cfg.network_uuid, _sha(text), ns):
            return []
        self.hub.sync(cfg.network_uuid, _sha(text), ns)
        return ["metadata served"]

    def destroy_sync(self, network_uuid: str) -> bool:
        """Blocking destroy; safe to call on a half-made or absent router."""
        with filelock.held(self.lock_file(network_uuid)):
            return self._destroy(network_uuid)

    def _destroy(self, network_uuid: str) -> bool:
        """destroy_sync() under the router's lock (the lock file itself stays: a waiter may hold it open)."""
        rdir = self.router_dir(network_uuid)
        state = self._state(network_uuid)
        if state is None and not rdir.exists():
            return False
        if state:
            self._linked.pop(state["plan"]["netns"], None)
        services.stop_haproxy(rdir)
        services.procs.stop(rdir / "dnsmasq.pid", "dnsmasq")
        if state:
            self._remove_links(state)
        shutil.rmtree(rdir, ignore_errors=True)
        if self.hub.up():
            self.hub.sync(network_uuid, None, None)
            if not self.list_routers():
                self.hub.stop()
        return True

    def _remove_links(self, state: dict) -> None:
        """Delete the router's host-side links, its namespace, and guest bridges it created if unused."""
        plan, host = state["plan"], state.get("host_netns")
        for extra in ("vxlan", "vlan"):
            if plan.get(extra):
                links.delete_link(host, plan[extra]["name"])
        for side in ("guest", "public"):
            links.delete_link(host, plan[side]["host_leg"])
        links.remove_netns(plan["netns"])
        for bridge in state.get("created_bridges", []):
            if not links.bridge_ports(host, bridge):
                links.delete_link(host, bridge)

    def status_sync(self, network_uuid: str) -> RouterStatus:
        """Blocking status."""
        state = self._state(network_uuid)
        if state is None:
            return RouterStatus(network_uuid, False)
        rdir, ns = self.router_dir(network_uuid), state["plan"]["netns"]
        ns_ok = links.netns_id(ns) is not None
        meta = (rdir / "metadata.json").read_text() if (rdir / "metadata.json").exists() else ""
        health: dict[str, bool | None] = {
            "netns": ns_ok,
            "nftables": ns_ok and services.nft_live(ns),
            "dnsmasq": services.dnsmasq_up(rdir),
            "haproxy": services.haproxy_up(rdir) if (rdir / "haproxy.cfg").exists() else None,
            "metadata": ns_ok and self.hub.serves(network_uuid, _sha(meta), ns),
        }
        return RouterStatus(network_uuid, True, health)

    def heal_sync(self, network_uuid: str | None = None) -> list[HealAction]:
        """Blocking heal of one router or all of them."""
        actions: list[HealAction] = []
        for uuid in [network_uuid] if network_uuid else self.list_routers():
            with filelock.held(self.lock_file(uuid)):
                actions += self._heal_one(uuid)
        return actions

    def _heal_one(self, uuid: str) -> list[HealAction]:
        """Restart what is dead in one router (under its lock); a missing namespace needs a full apply."""
        st = self.status_sync(uuid)
        if not st.exists:
            return []
        rdir, ns = self.router_dir(uuid), self._state(uuid)["plan"]["netns"]  # type: ignore[index]
        if not st.services["netns"]:
            return [HealAction(uuid, "netns", "namespace missing: apply the config again", ok=False)]
        repairs = {
            "nftables": lambda: services.load_ruleset(ns, (rdir / "nftables.nft").read_text()),
            "dnsmasq": lambda: services.start_dnsmasq(rdir, ns),
            "haproxy": lambda: services.start_haproxy(rdir, ns),
            "metadata": lambda: self.hub.sync(uuid, _sha((rdir / "metadata.json").read_text()), ns),
        }
        actions = []
        for service, fix in repairs.items():
            if st.services.get(service) is False:
                try:
                    fix()
                    actions.append(HealAction(uuid, service, "restarted"))
                except RouterError as exc:
                    actions.append(HealAction(uuid, service, f"restart failed: {exc}", ok=False))
        return actions
