"""Import a XenServer pool or a vCenter cluster through its driver: hosts, primary storage, templates.

addCluster (with a URL) and addHost call this for drivers that override `Driver.discover()` (they stand
for a pool master or a vCenter and can list several hosts). Discovery only reads from the hypervisor and
runs before anything is written, so a refused import leaves nothing behind on either side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlparse

from sqlmodel import Session, col, select
from virga.drivers.base import (
    AuthenticationFailed,
    DiscoveredHost,
    Driver,
    DriverError,
    HostConnection,
    HostFacts,
    HostUnreachable,
    InvalidSpec,
    Inventory,
    NotSupported,
    PoolSpec,
    TemplateSpec,
)
from virga.drivers.registry import driver_class, make_driver
from virga.errors import InternalError, InvalidParameter, Unavailable
from virga.models import (
    Account,
    Cluster,
    Host,
    OsType,
    PhysicalNetwork,
    StoragePool,
    Template,
    TrafficType,
    utcnow,
)
from virga.services.events import record_event
from virga.services.states import transition

# URL query options an operator may pass to the driver (https://master/?verify_ssl=false).
URL_OPTIONS = frozenset(
    {"verify_ssl", "ca_file", "guest_network", "timeout", "shutdown_timeout", "task_timeout", "event_timeout"}
)
# CloudStack's storage pool types for pools a hypervisor already has (driver kind -> pool type).
POOL_TYPE = {"sr": "PreSetup", "datastore": "VMFS"}
TEMPLATE_FORMAT = {"VHD": "VHD", "VMDK": "OVA"}


@dataclass
class Imported:
    """What an import added to the database (and what it found)."""

    hosts: list[Host] = field(default_factory=list)
    pools: list[StoragePool] = field(default_factory=list)
    templates: list[Template] = field(default_factory=list)
    networks: tuple[str, ...] = ()


def imports_inventory(hypervisor: str) -> bool:
    """Whether the hypervisor's driver discovers a whole pool/vCenter (it overrides Driver.discover)."""
    try:
        cls = driver_class(hypervisor)
    except NotSupported:
        return False
    return cls.discover is not Driver.discover


def connection_from_url(url: str, username: str | None, password: str | None) -> HostConnection:
    """A connection from an addCluster/addHost URL: scheme://host[:port][/sdk][/datacenter[/cluster]][?options]."""
    parsed = urlparse(url if "://" in url else f"https://{url}")
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise InvalidParameter(f"Parameter url: {url!r} is not an http(s) URL of a pool master or vCenter")
    options: dict[str, str] = {}
    for key, value in parse_qsl(parsed.query, keep_blank_values=True):
        if key not in URL_OPTIONS:
            raise InvalidParameter(f"Parameter url: unknown option {key!r} (known: {', '.join(sorted(URL_OPTIONS))})")
        options[key] = value
    parts = [unquote(p) for p in parsed.path.split("/") if p]
    if parts and parts[0].lower() == "sdk":
        parts = parts[1:]
    if len(parts) > 2:
        raise InvalidParameter(f"Parameter url: {parsed.path!r} has more than a datacenter and a cluster")
    options.update(zip(("datacenter", "cluster"), parts, strict=False))
    port = f":{parsed.port}" if parsed.port else ""
    return HostConnection(
        url=f"{parsed.scheme}://{parsed.hostname}{port}/",
        username=username or parsed.username,
        password=password or parsed.password,
        options=options,
    )


async def discover(hypervisor: str, conn: HostConnection) -> Inventory:
    """Ask the driver what it can see; driver failures become CloudStack errors naming the endpoint."""
    drv = make_driver(hypervisor, conn)
    where = f"{hypervisor} at {conn.url}"
    try:
        inv = await drv.discover()
    except AuthenticationFailed as exc:
        raise InvalidParameter(f"Unable to log in to {where}: wrong username or password ({exc})") from None
    except HostUnreachable as exc:
        raise Unavailable(f"Unable to reach {where}: {exc}") from None
    except InvalidSpec as exc:
        raise InvalidParameter(f"Parameter url: {exc}") from None
    except NotSupported:
        raise
    except DriverError as exc:
        raise InternalError(f"Discovering {where} failed: {exc}") from None
    finally:
        try:
            await drv.close()
        except Exception:  # noqa: BLE001 - a failed login leaves nothing to close
            pass
    if not inv.hosts:
        raise InvalidParameter(f"{where} has no hosts to add")
    return inv


def apply_facts(host: Host, facts: HostFacts, capabilities: frozenset[Any]) -> None:
    """Fill a host row from what the host said about itself (addHost semantics: it is Up)."""
    host.name, host.hypervisorversion, host.cpumodel = facts.name, facts.hypervisor_version, facts.cpu_model
    host.cpunumber, host.cpuspeed, host.memorytotal = facts.cpu_count, facts.cpu_mhz, facts.memory_bytes
    host.accelerator, host.lastpinged = facts.accelerator or "", utcnow()
    transition(host, "connected")
    host.capabilities = ",".join(sorted(c.value for c in capabilities))


def guest_label(s: Session, zone_id: int, hypervisor: str) -> str:
    """The zone's Guest traffic label for the hypervisor (empty when none is set)."""
    column = driver_class(hypervisor).traffic_label  # the traffic-type column naming its guest network
    if column is None:
        return ""
    rows = s.exec(
        select(TrafficType)
        .join(PhysicalNetwork, col(PhysicalNetwork.id) == TrafficType.physicalnetwork_id)
        .where(
            PhysicalNetwork.zone_id == zone_id,
            TrafficType.traffictype == "Guest",
            TrafficType.removed == None,
            PhysicalNetwork.removed == None,
        )
    )
    return next((getattr(t, column) for t in rows if getattr(t, column)), "")


def record(s: Session, cluster: Cluster, conn: HostConnection, inv: Inventory, owner: Account) -> Imported:
    """Add the inventory's new hosts, pools and templates to the cluster (a flushed, uncommitted session)."""
    guest = conn.options.get("guest_network") or guest_label(s, cluster.zone_id, cluster.hypervisor)
    caps = driver_class(cluster.hypervisor).capabilities
    done = Imported(networks=inv.networks)
    for found in inv.hosts:
        host = _host(s, cluster, found, guest, caps)
        if host is not None:
            done.hosts.append(host)
    for spec in inv.pools:
        pool = _pool(s, cluster, spec)
        if pool is not None:
            done.pools.append(pool)
    for tspec in inv.templates:
        tmpl = _template(s, cluster, tspec, owner)
        if tmpl is not None:
            done.templates.append(tmpl)
    s.flush()
    record_event(
        s,
        "HOST.ADD",
        f"Imported {len(done.hosts)} host(s), {len(done.pools)} primary storage pool(s) "
        f"and {len(done.templates)} template(s) from {cluster.hypervisor} at {conn.url} into cluster "
        f"{cluster.name}; networks: {', '.join(inv.networks) or 'none'}"
        + (f"; guest NICs go on {guest}" if guest else ""),
        account_id=owner.id,
        domain_id=owner.domain_id,
        resource=cluster,
    )
    return done


def _host(s: Session, cluster: Cluster, found: DiscoveredHost, guest: str, caps: frozenset[Any]) -> Host | None:
    """A new host row for a discovered host; None when the cluster has it already."""
    options = {k: str(v) for k, v in found.conn.options.items()}
    if guest:
        options["guest_network"] = guest
    key = options.get("host", "")
    for other in s.exec(select(Host).where(Host.url == found.conn.url, Host.removed == None)):
        if (other.options or {}).get("host", "") == key:
            if other.cluster_id == cluster.id:
                return None
            raise InvalidParameter(f"Host {other.name} ({found.conn.url}) is already managed in another cluster")
    host = Host(
        name=found.facts.name,
        zone_id=cluster.zone_id,
        pod_id=cluster.pod_id,
        cluster_id=cluster.id or 0,
        hypervisor=cluster.hypervisor,
        url=found.conn.url,
        username=found.conn.username,
        password=found.conn.password,
        options=options,
        ipaddress=found.facts.extra.get("address") or urlparse(found.conn.url).hostname or found.facts.name,
    )
    apply_facts(host, found.facts, caps)
    s.add(host)
    return host


def _pool(s: Session, cluster: Cluster, spec: PoolSpec) -> StoragePool | None:
    """A cluster-wide primary storage pool for an SR or datastore; None when the cluster has it already."""
    path = spec.path or spec.uuid
    same = s.exec(
        select(StoragePool).where(
            StoragePool.cluster_id == cluster.id, StoragePool.path == path, StoragePool.removed == None
        )
    ).first()
    if same is not None:
        return None
    name = spec.name
    taken = s.exec(
        select(StoragePool).where(
            StoragePool.zone_id == cluster.zone_id, StoragePool.name == name, StoragePool.removed == None
        )
    ).first()
    if taken is not None:
        name = f"{spec.name} ({cluster.name})"
    kind = POOL_TYPE.get(spec.kind, spec.kind)
    pool = StoragePool(
        name=name,
        zone_id=cluster.zone_id,
        pod_id=cluster.pod_id,
        cluster_id=cluster.id,
        scope="CLUSTER",
        type=kind,
        url=spec.url or f"{kind.lower()}://{spec.uuid}",
        path=path,
        ipaddress="",
        capacitybytes=0,
        state="Up",
        hypervisor=cluster.hypervisor,
    )
    s.add(pool)
    return pool


def _template(s: Session, cluster: Cluster, spec: TemplateSpec, owner: Account) -> Template | None:
    """A ready template row standing for a hypervisor template; None when the zone has it already."""
    same = s.exec(
        select(Template).where(
            Template.zone_id == cluster.zone_id,
            Template.url == spec.url,
            Template.hypervisor == cluster.hypervisor,
            Template.removed == None,
        )
    ).first()
    if same is not None:
        return None
    os = s.exec(select(OsType).where(OsType.description == spec.os_type)).first()
    tmpl = Template(
        name=spec.name,
        displaytext=f"{spec.name} ({cluster.hypervisor} template)",
        format=TEMPLATE_FORMAT.get(spec.format, spec.format),
        hypervisor=cluster.hypervisor,
        ostype_id=os.id if os else None,
        zone_id=cluster.zone_id,
        url=spec.url,
        install_path=spec.url,
        isready=True,
        status="Download Complete",
        size=spec.size_bytes,
        physicalsize=spec.size_bytes,
        ispublic=True,
        templatetype="USER",
        details=dict(spec.details),
        account_id=owner.id or 0,
        domain_id=owner.domain_id,
    )
    s.add(tmpl)
    return tmpl


async def discover_url(
    hypervisor: str, url: str | None, username: str | None, password: str | None
) -> tuple[HostConnection, Inventory] | None:
    """Connect to the URL and discover its inventory, or None when the hypervisor does not import one."""
    if not url or not imports_inventory(hypervisor):
        return None
    conn = connection_from_url(url, username, password)
    return conn, await discover(hypervisor, conn)


async def add_hosts(
    s: Session, cluster: Cluster, url: str, username: str | None, password: str | None, owner: Account
) -> list[Host]:
    """addHost for a pool/vCenter hypervisor: import every host (and pool, template) not yet in the cluster."""
    found = await discover_url(cluster.hypervisor, url, username, password)
    assert found is not None
    done = record(s, cluster, *found, owner)
    if not done.hosts:
        raise InvalidParameter(f"Every host behind {found[0].url} is already in cluster {cluster.name}")
    return done.hosts
