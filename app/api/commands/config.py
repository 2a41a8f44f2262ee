"""Global settings (listConfigurations, updateConfiguration) and the simulator's behaviour
(configureSimulator, cleanupSimulatorMocks)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import virga.services.hostops  # noqa: F401  (host maintenance and reconnect job bodies)
from sqlalchemy import func, or_
from sqlmodel import select
from virga.api.registry import ROOT, Param, api
from virga.api.response import clean, list_body
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.drivers.base import Driver
from virga.drivers.simulator.world import Rule
from virga.errors import InvalidParameter
from virga.models import Cluster, Configuration, Host, Pod, Zone
from virga.services.templates import SIM_STORE

FIELDS.update(
    {
        "configuration": "name value category description defaultvalue scope isdynamic type",
        "mockconfig": "name operation value count zoneid podid clusterid hostid hosts",
    }
)
# CloudStack agent command names -> the driver operation the simulator applies behaviour to.
COMMAND_OPS = {
    "StartCommand": "start_instance",
    "StopCommand": "stop_instance",
    "RebootCommand": "reboot_instance",
    "MigrateCommand": "migrate_instance",
    "PrepareForMigrationCommand": "migrate_instance",
    "CreateCommand": "prepare_volume",
    "CreateObjectCommand": "prepare_volume",
    "DestroyCommand": "delete_volume",
    "DeleteCommand": "delete_volume",
    "ResizeVolumeCommand": "resize_volume",
    "AttachCommand": "attach_volume",
    "DettachCommand": "detach_volume",
    "ScaleVmCommand": "scale_instance",
    "PingCommand": "ping",
    "PingRoutingCommand": "ping",
    "CheckHealthCommand": "ping",
    "ReadyCommand": "connect",
    "StartupRoutingCommand": "connect",
    "GetVmStatsCommand": "instance_stats",
    "CheckVirtualMachineCommand": "get_instance",
    "GetVmStateCommand": "list_instances",
    "ClusterVMMetaDataSyncCommand": "list_instances",
    "DownloadCommand": "download_template",
    "DownloadProgressCommand": "download_template",
    "CopyCommand": "download_template",
    "CreateVMSnapshotCommand": "snapshot_instance",
    "RevertToVMSnapshotCommand": "revert_instance_snapshot",
    "DeleteVMSnapshotCommand": "delete_instance_snapshot",
    "CreateSnapshotCommand": "snapshot_volume",
    "GetVncPortCommand": "console",
}
STORE_OPS = {"download_template"}
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def _type_of(c: Configuration) -> str:
    """Number, Boolean or String, from the default value."""
    if _NUMBER.match(c.defaultvalue or ""):
        return "Number"
    if (c.defaultvalue or "").lower() in ("true", "false"):
        return "Boolean"
    return "String"


def config_view(c: Configuration) -> dict[str, Any]:
    """A configuration response object."""
    return clean(
        {
            "name": c.name,
            "value": c.value,
            "category": c.category,
            "description": c.description,
            "defaultvalue": c.defaultvalue,
            "scope": "global",
            "isdynamic": True,
            "type": _type_of(c),
        }
    )


@api(
    "listConfigurations",
    "Lists global settings",
    "configuration",
    [
        Param("name", description="the setting"),
        Param("category", description="the category"),
        Param("zoneid", "uuid", description="unused: settings are global"),
        Param("clusterid", "uuid", description="unused"),
        Param("storageid", "uuid", description="unused"),
        Param("accountid", "uuid", description="unused"),
        Param("domainid", "uuid", description="unused"),
    ],
    roles=ROOT,
    paged=True,
)
def list_configurations(ctx: Ctx) -> dict[str, Any]:
    """List settings by name, category or keyword."""
    a = ctx.args
    stmt = select(Configuration)
    if a.name:
        stmt = stmt.where(Configuration.name == a.name)
    if a.category:
        stmt = stmt.where(func.lower(Configuration.category) == a.category.lower())
    if a.keyword:
        like = f"%{a.keyword}%"
        stmt = stmt.where(or_(Configuration.name.ilike(like), Configuration.description.ilike(like)))  # type: ignore[attr-defined]
    count = ctx.db.exec(select(func.count()).select_from(stmt.subquery())).one()
    stmt = stmt.order_by(Configuration.name)
    size = a.pagesize or 500
    if size != -1:
        stmt = stmt.offset(((a.page or 1) - 1) * size).limit(size)
    return list_body("configuration", [config_view(c) for c in ctx.db.exec(stmt)], int(count))


def _check_value(c: Configuration, value: str) -> str:
    """A value of the setting's type (numbers must be numbers, booleans true/false)."""
    kind = _type_of(c)
    if kind == "Number":
        if not _NUMBER.match(value.strip()):
            raise InvalidParameter(f"Parameter value: {c.name} takes a number, not {value!r}")
        if "factor" in c.name and float(value) <= 0:
            raise InvalidParameter(f"Parameter value: {c.name} must be greater than 0")
        return value.strip()
    if kind == "Boolean":
        if value.strip().lower() not in ("true", "false"):
            raise InvalidParameter(f"Parameter value: {c.name} takes true or false, not {value!r}")
        return value.strip().lower()
    return value


@api(
    "updateConfiguration",
    "Updates a global setting",
    "configuration",
    [
        Param("name", required=True, description="the setting"),
        Param("value", description="the new value"),
        Param("zoneid", "uuid", description="unused"),
        Param("clusterid", "uuid", description="unused"),
        Param("storageid", "uuid", description="unused"),
        Param("accountid", "uuid", description="unused"),
        Param("domainid", "uuid", description="unused"),
    ],
    roles=ROOT,
)
def update_configuration(ctx: Ctx) -> dict[str, Any]:
    """Change a setting (an absent value resets it to its default)."""
    c = ctx.db.get(Configuration, ctx.args.name)
    if c is None:
        raise InvalidParameter(f"Unknown setting {ctx.args.name} (parameter name)")
    value = ctx.args.value
    c.value = c.defaultvalue if value is None else _check_value(c, value)
    ctx.db.add(c)
    return {"configuration": config_view(c)}


def _operation(name: str) -> str:
    """The driver operation a configureSimulator name means (a driver method, a command name, or *)."""
    if name in COMMAND_OPS:
        return COMMAND_OPS[name]
    if name == "*" or name in STORE_OPS or (not name.startswith("_") and callable(getattr(Driver, name, None))):
        return name
    raise InvalidParameter(
        f"Parameter name: {name!r} is neither a driver operation (start_instance, "
        "create_instance, prepare_volume, download_template, *) nor a known command name"
    )


def _behaviour(value: str) -> dict[str, Any]:
    """Parse wait:<ms>, fail, fail:<text>, down, up (comma-separated)."""
    out: dict[str, Any] = {"latency_ms": 0, "fail": None, "power": None}
    for part in (p.strip() for p in value.split(",") if p.strip()):
        word, _, arg = part.partition(":")
        word = word.lower()
        if word == "wait" and arg.strip().isdigit():
            out["latency_ms"] = int(arg)
        elif word == "fail":
            out["fail"] = arg.strip() or "simulated failure"
        elif word in ("down", "up") and not arg:
            out["power"] = word
        else:
            raise InvalidParameter(f"Parameter value: {part!r} is not wait:<ms>, fail, fail:<text>, down or up")
    return out


@dataclass
class ScopedRule(Rule):
    """A rule for a set of simulated hosts whose count is shared by all of them."""

    hosts: frozenset[str] = frozenset()

    def matches(self, operation: str, host: str) -> bool:
        """Whether the rule applies to this operation on one of its hosts."""
        return self.count != 0 and self.operation in (operation, "*") and host in self.hosts


def sim_name(h: Host) -> str:
    """The simulator's name of a host (its URL's netloc)."""
    url = urlparse(h.url)
    return url.netloc or url.path.strip("/") or "simulator"


def _hosts(ctx: Ctx) -> tuple[list[Host], bool]:
    """The simulator hosts a configureSimulator call targets, and whether a scope was given."""
    a = ctx.args
    stmt = select(Host).where(Host.removed == None, Host.hypervisor == "Simulator")
    scoped = False
    for param, model, col in (
        ("zoneid", Zone, Host.zone_id),
        ("podid", Pod, Host.pod_id),
        ("clusterid", Cluster, Host.cluster_id),
        ("hostid", Host, Host.id),
    ):
        if a.get(param):
            row = ctx.get(model, a[param], param)
            stmt, scoped = stmt.where(col == row.id), True
    return list(ctx.db.exec(stmt)), scoped


@api(
    "configureSimulator",
    "Configures the simulator's latency, failures and host power",
    "mockconfig",
    [
        Param(
            "name",
            required=True,
            description="a driver operation (start_instance, create_instance, "
            "prepare_volume, download_template, ...), a CloudStack command name (StartCommand...) or *",
        ),
        Param("value", required=True, description="wait:<ms>, fail, fail:<text>, down or up (comma-separated)"),
        Param("count", "integer", description="how many times the behaviour applies (default: always)"),
        Param("zoneid", "uuid", description="limit to a zone's hosts"),
        Param("podid", "uuid", description="a pod's"),
        Param("clusterid", "uuid", description="a cluster's"),
        Param("hostid", "uuid", description="one host"),
        Param("jsonresponse", description="unused"),
    ],
    roles=ROOT,
)
def configure_simulator(ctx: Ctx) -> dict[str, Any]:
    """Add rules to the simulator world (or mark hosts down/up)."""
    from virga.drivers.simulator.world import WORLD

    a = ctx.args
    op = _operation(a.name)
    how = _behaviour(a.value)
    if a.count is not None and a.count < 1:
        raise InvalidParameter("Parameter count must be 1 or more")
    hosts, scoped = _hosts(ctx)
    if scoped and not hosts:
        raise InvalidParameter("The zoneid/podid/clusterid/hostid given matches no simulator host")
    names = [sim_name(h) for h in hosts]
    if how["power"]:
        for name in names:
            (WORLD.down_hosts.add if how["power"] == "down" else WORLD.down_hosts.discard)(name)
    targets: list[str] = [SIM_STORE] if op in STORE_OPS else names
    if how["latency_ms"] or how["fail"]:
        count = a.count if a.count is not None else -1
        if op in STORE_OPS or scoped:
            key = SIM_STORE if op in STORE_OPS else "scope:" + ",".join(sorted(targets))
            WORLD.configure(
                ScopedRule(
                    operation=op,
                    host=key,
                    latency_ms=how["latency_ms"],
                    fail=how["fail"],
                    count=count,
                    hosts=frozenset(targets),
                )
            )
        else:
            WORLD.configure(Rule(operation=op, latency_ms=how["latency_ms"], fail=how["fail"], count=count))
    return {
        "mockconfig": clean(
            {
                "name": a.name,
                "operation": op,
                "value": a.value,
                "count": a.count,
                "zoneid": a.zoneid,
                "podid": a.podid,
                "clusterid": a.clusterid,
                "hostid": a.hostid,
                "hosts": targets if (scoped or op in STORE_OPS) else None,
            }
        )
    }


@api(
    "cleanupSimulatorMocks",
    "Removes every simulator rule and brings every simulated host back up",
    "success",
    [],
    roles=ROOT,
)
def cleanup_simulator(ctx: Ctx) -> dict[str, Any]:
    """Reset the simulator world's injected behaviour."""
    from virga.drivers.simulator.world import WORLD

    WORLD.reset()
    return {"success": True}
