"""The simulator's injected behaviour as its API sets it (configureSimulator, cleanupSimulatorMocks).

Everything here is the simulator's own: CloudStack agent command names mapped to driver operations, the
wait/fail/down/up behaviour language, and rules scoped to a set of simulated hosts. Bad input raises
ValueError with the text the API answers (431)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from virga.drivers.base import Driver
from virga.drivers.simulator.driver import SimulatorDriver
from virga.drivers.simulator.world import WORLD, Rule

HYPERVISOR = SimulatorDriver.hypervisor
IMAGE_STORE = "image-store"  # the world's name of the (simulated) image store that template downloads run on
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


def operation(name: str) -> str:
    """The driver operation a configureSimulator name means (a driver method, a command name, or *)."""
    if name in COMMAND_OPS:
        return COMMAND_OPS[name]
    if name == "*" or name in STORE_OPS or (not name.startswith("_") and callable(getattr(Driver, name, None))):
        return name
    raise ValueError(
        f"Parameter name: {name!r} is neither a driver operation (start_instance, "
        "create_instance, prepare_volume, download_template, *) nor a known command name"
    )


def behaviour(value: str) -> dict[str, Any]:
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
            raise ValueError(f"Parameter value: {part!r} is not wait:<ms>, fail, fail:<text>, down or up")
    return out


@dataclass
class ScopedRule(Rule):
    """A rule for a set of simulated hosts whose count is shared by all of them."""

    hosts: frozenset[str] = frozenset()

    def matches(self, operation: str, host: str) -> bool:
        """Whether the rule applies to this operation on one of its hosts."""
        return self.count != 0 and self.operation in (operation, "*") and host in self.hosts


def host_name(url: str) -> str:
    """The simulator's name of a host from its URL (the netloc)."""
    parsed = urlparse(url)
    return parsed.netloc or parsed.path.strip("/") or "simulator"


def configure(op: str, how: dict[str, Any], count: int | None, host_urls: list[str], scoped: bool) -> list[str]:
    """Apply a parsed behaviour to the world (power for the hosts, a rule for the operation); the targets."""
    names = [host_name(u) for u in host_urls]
    if how["power"]:
        for name in names:
            (WORLD.down_hosts.add if how["power"] == "down" else WORLD.down_hosts.discard)(name)
    targets: list[str] = [IMAGE_STORE] if op in STORE_OPS else names
    if how["latency_ms"] or how["fail"]:
        times = count if count is not None else -1
        if op in STORE_OPS or scoped:
            key = IMAGE_STORE if op in STORE_OPS else "scope:" + ",".join(sorted(targets))
            WORLD.configure(
                ScopedRule(
                    operation=op,
                    host=key,
                    latency_ms=how["latency_ms"],
                    fail=how["fail"],
                    count=times,
                    hosts=frozenset(targets),
                )
            )
        else:
            WORLD.configure(Rule(operation=op, latency_ms=how["latency_ms"], fail=how["fail"], count=times))
    return targets


def reset() -> None:
    """Remove every rule and bring every simulated host back up."""
    WORLD.reset()
