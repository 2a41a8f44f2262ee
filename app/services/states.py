"""One state machine per resource type: the only way states change.

Each resource's states are an enum (a StrEnum: members compare equal to CloudStack's state strings
and are stored as them). Its machine maps an event to the moves it allows, {from state: to state};
`transition` is the only code that assigns a `.state` (tests/test_architecture.py enforces it).
Rows are created in their initial state; after that every change is an event here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import case
from virga.errors import InvalidParameter


class ServerState(StrEnum):
    """A management server's states (CloudStack's ManagementServerHost.State, as far as virga needs)."""

    UP = "Up"
    DOWN = "Down"


class VmState(StrEnum):
    """A virtual machine's states (CloudStack's VirtualMachine.State)."""

    STARTING = "Starting"
    RUNNING = "Running"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    MIGRATING = "Migrating"
    DESTROYED = "Destroyed"
    EXPUNGING = "Expunging"
    EXPUNGED = "Expunged"
    ERROR = "Error"


class VolumeState(StrEnum):
    """A volume's states (CloudStack's Volume.State)."""

    ALLOCATED = "Allocated"
    CREATING = "Creating"
    READY = "Ready"
    RESIZING = "Resizing"
    MIGRATING = "Migrating"
    DESTROY = "Destroy"
    EXPUNGED = "Expunged"
    ERROR = "Error"
    NOT_UPLOADED = "NotUploaded"
    UPLOAD_IN_PROGRESS = "UploadInProgress"
    UPLOADED = "Uploaded"
    UPLOAD_ERROR = "UploadError"
    COPYING = "Copying"


class HostState(StrEnum):
    """A host's connection states (CloudStack's Status)."""

    CONNECTING = "Connecting"
    UP = "Up"
    DISCONNECTED = "Disconnected"
    DOWN = "Down"
    ALERT = "Alert"
    REMOVED = "Removed"


class NetworkState(StrEnum):
    """A guest network's states (CloudStack's Network.State)."""

    ALLOCATED = "Allocated"
    SETUP = "Setup"
    IMPLEMENTING = "Implementing"
    IMPLEMENTED = "Implemented"
    SHUTDOWN = "Shutdown"
    DESTROY = "Destroy"


class SnapshotState(StrEnum):
    """A volume snapshot's states (CloudStack's Snapshot.State)."""

    ALLOCATED = "Allocated"
    CREATED_ON_PRIMARY = "CreatedOnPrimary"
    BACKING_UP = "BackingUp"
    BACKED_UP = "BackedUp"
    DESTROYED = "Destroyed"
    ERROR = "Error"


class VmSnapshotState(StrEnum):
    """A VM snapshot's states (CloudStack's VMSnapshot.State)."""

    ALLOCATED = "Allocated"
    CREATING = "Creating"
    READY = "Ready"
    REVERTING = "Reverting"
    EXPUNGING = "Expunging"
    REMOVED = "Removed"
    ERROR = "Error"


class RouterState(StrEnum):
    """A virtual router's states (CloudStack's VirtualMachine.State for a DomainRouter)."""

    STARTING = "Starting"
    RUNNING = "Running"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    DESTROYED = "Destroyed"


class IpState(StrEnum):
    """A public IP address's states (CloudStack's IpAddress.State)."""

    FREE = "Free"
    ALLOCATED = "Allocated"
    RELEASING = "Releasing"


class RuleState(StrEnum):
    """A firewall, port forwarding or load balancer rule's states (CloudStack's FirewallRule.State)."""

    ADD = "Add"
    ACTIVE = "Active"
    REVOKE = "Revoke"


class DomainState(StrEnum):
    """A domain's states (CloudStack's Domain.State)."""

    ACTIVE = "Active"
    INACTIVE = "Inactive"


class AccountState(StrEnum):
    """An account's states (CloudStack's Account.State, lower case as it answers them)."""

    ENABLED = "enabled"
    DISABLED = "disabled"
    LOCKED = "locked"
    REMOVED = "removed"


class UserState(StrEnum):
    """A user's states (CloudStack's Account.State for a user)."""

    ENABLED = "enabled"
    DISABLED = "disabled"
    LOCKED = "locked"
    REMOVED = "removed"


class OfferingState(StrEnum):
    """A service or disk offering's states."""

    ACTIVE = "Active"
    INACTIVE = "Inactive"


class TemplateState(StrEnum):
    """A template's (or ISO's) states; its download progress is its status text, not a state."""

    ACTIVE = "Active"
    INACTIVE = "Inactive"


class PoolState(StrEnum):
    """A primary storage pool's states (CloudStack's StoragePoolStatus)."""

    UP = "Up"
    DISABLED = "Disabled"
    PREPARE_FOR_MAINTENANCE = "PrepareForMaintenance"
    MAINTENANCE = "Maintenance"
    ERROR_IN_MAINTENANCE = "ErrorInMaintenance"
    REMOVED = "Removed"


class EnabledState(StrEnum):
    """Enabled/Disabled resources: physical networks, network service providers, network offerings."""

    ENABLED = "Enabled"
    DISABLED = "Disabled"
    SHUTDOWN = "Shutdown"  # providers only


# model class name -> its states
STATES: dict[str, type[StrEnum]] = {
    "StoragePool": PoolState,
    "PhysicalNetwork": EnabledState,
    "NetworkServiceProvider": EnabledState,
    "NetworkOffering": EnabledState,
    "ManagementServer": ServerState,
    "Router": RouterState,
    "PublicIpAddress": IpState,
    "FirewallRule": RuleState,
    "PortForwardingRule": RuleState,
    "LoadBalancerRule": RuleState,
    "VirtualMachine": VmState,
    "Volume": VolumeState,
    "Host": HostState,
    "Network": NetworkState,
    "Snapshot": SnapshotState,
    "VMSnapshot": VmSnapshotState,
    "Domain": DomainState,
    "Account": AccountState,
    "User": UserState,
    "ServiceOffering": OfferingState,
    "DiskOffering": OfferingState,
    "Template": TemplateState,
}

_ENABLING = {
    "enable": {"Enabled": "Enabled", "Disabled": "Enabled"},
    "disable": {"Enabled": "Disabled", "Disabled": "Disabled"},
}
MACHINES: dict[str, dict[str, dict[str, str]]] = {
    "StoragePool": {
        "enable": {"Up": "Up", "Disabled": "Up"},
        "disable": {"Up": "Disabled", "Disabled": "Disabled"},
        "maintain": {s: "Maintenance" for s in ("Up", "Disabled", "ErrorInMaintenance")},
        "cancel_maintenance": {s: "Up" for s in ("Maintenance", "PrepareForMaintenance", "ErrorInMaintenance")},
        "remove": {s.value: "Removed" for s in PoolState},
    },
    "PhysicalNetwork": _ENABLING,
    "NetworkServiceProvider": {  # updateNetworkServiceProvider moves a provider to any of its states
        event: {s.value: target for s in EnabledState}
        for event, target in (("enable", "Enabled"), ("disable", "Disabled"), ("shutdown", "Shutdown"))
    },
    "NetworkOffering": _ENABLING,
    "ManagementServer": {
        "started": {"Up": "Up", "Down": "Up"},  # Up: a restart after a crash (its heartbeat went stale)
        "signed_off": {"Up": "Down", "Down": "Down"},
    },
    "Template": {
        "delete": {"Active": "Inactive"},
    },
    "Router": {
        "stop": {"Running": "Stopping", "Starting": "Stopping"},
        "stopped": {s: "Stopped" for s in ("Stopping", "Starting", "Running", "Stopped")},
        "stop_failed": {"Stopping": "Running", "Stopped": "Running"},
        "starting": {s: "Starting" for s in ("Stopped", "Running", "Starting", "Stopping")},
        "start_failed": {"Starting": "Stopped", "Running": "Stopped"},
        "running": {"Starting": "Running", "Running": "Running", "Stopping": "Running"},
        "destroy": {s: "Destroyed" for s in ("Starting", "Running", "Stopping", "Stopped", "Destroyed")},
    },
    "PublicIpAddress": {
        "allocate": {"Free": "Allocated"},
        "release": {"Allocated": "Releasing"},
        "release_failed": {"Releasing": "Allocated"},
        "free": {"Allocated": "Free", "Releasing": "Free", "Free": "Free"},
    },
    **{
        rule: {
            "activate": {"Add": "Active", "Active": "Active"},
            "revoke": {"Add": "Revoke", "Active": "Revoke"},
            "restore": {"Revoke": "Active"},
            "retire": {"Add": "Revoke", "Active": "Revoke", "Revoke": "Revoke"},
        }
        for rule in ("FirewallRule", "PortForwardingRule", "LoadBalancerRule")
    },
    "VirtualMachine": {
        "deploy": {"Starting": "Starting"},
        "start": {"Stopped": "Starting"},
        "started": {"Starting": "Running", "Migrating": "Running", "Running": "Running"},
        "start_failed": {"Starting": "Stopped"},
        "stop": {"Running": "Stopping", "Starting": "Stopping"},
        "stopped": {"Stopping": "Stopped", "Running": "Stopped", "Starting": "Stopped", "Migrating": "Stopped"},
        "stop_failed": {"Stopping": "Running"},
        "reboot": {"Running": "Running"},
        "migrate": {"Running": "Migrating", "Stopped": "Stopped"},
        "migrated": {"Migrating": "Running", "Stopped": "Stopped"},
        "destroy": {"Running": "Destroyed", "Stopped": "Destroyed", "Error": "Destroyed", "Stopping": "Destroyed"},
        "recover": {"Destroyed": "Stopped"},
        "expunge": {"Destroyed": "Expunging", "Error": "Expunging", "Stopped": "Expunging"},
        "expunged": {"Expunging": "Expunged"},
        "error": {s: "Error" for s in ("Starting", "Running", "Stopping", "Stopped", "Migrating", "Expunging")},
        "lost": {"Running": "Stopped", "Starting": "Stopped"},
        "found": {"Stopped": "Running"},
        # job outcomes and the reconciliation of interrupted jobs (services/vm*.py)
        "deployed": {"Starting": "Stopped"},  # deployed with startvm=false
        "migrate_failed": {"Migrating": "Running"},
        "seen_running": {s: "Running" for s in ("Starting", "Running", "Stopping", "Migrating")},
        "seen_stopped": {s: "Stopped" for s in ("Starting", "Running", "Stopping", "Migrating")},
        "destroyed": {s: "Destroyed" for s in ("Starting", "Running", "Stopping", "Stopped", "Migrating", "Error")}
        | {"Destroyed": "Destroyed"},
        "purged": {s.value: "Expunged" for s in VmState},
    },
    "Volume": {
        "create": {"Allocated": "Creating"},
        "created": {"Creating": "Ready", "Allocated": "Ready"},
        "resize": {"Ready": "Resizing"},
        "resized": {"Resizing": "Ready"},
        "migrate": {"Ready": "Migrating"},
        "migrated": {"Migrating": "Ready"},
        "destroy": {
            "Ready": "Destroy",
            "Allocated": "Destroy",
            "Creating": "Destroy",
            "Error": "Destroy",
            "NotUploaded": "Destroy",
            "Uploaded": "Destroy",
            "UploadError": "Destroy",
        },
        "expunged": {"Destroy": "Expunged"},
        "snapshot": {"Ready": "Ready"},
        "failed": {"Creating": "Error", "Resizing": "Ready", "Migrating": "Ready"},
        # uploads (getUploadParamsForVolume), then the copy to primary storage on first attach
        "upload": {"NotUploaded": "UploadInProgress", "UploadError": "UploadInProgress"},
        "uploaded": {"UploadInProgress": "Uploaded"},
        "upload_failed": {"UploadInProgress": "UploadError"},
        "copy": {"Uploaded": "Copying"},
        "copied": {"Copying": "Ready"},
        "copy_failed": {"Copying": "Uploaded"},
        # deleteAccount: whatever an account's volume was doing, it is gone with the account
        "purge": {s: "Expunged" for s in VolumeState if s != "Expunged"},
        # a createVolume that failed or whose server died: the row it recorded goes away
        "forget": {s: "Expunged" for s in ("Allocated", "Creating", "Ready", "Error")},
        # undo of the creation of a volume's disk: Allocated again (its disk is made on first attach)
        "unallocate": {"Creating": "Allocated", "Ready": "Allocated"},
    },
    "Host": {
        "connected": {"Connecting": "Up", "Disconnected": "Up", "Down": "Up", "Up": "Up", "Alert": "Up"},
        "lost": {"Up": "Disconnected", "Connecting": "Disconnected", "Alert": "Disconnected"},
        "down": {"Disconnected": "Down"},
        "reconnect": {s: "Connecting" for s in ("Up", "Disconnected", "Down", "Alert", "Connecting")},
        "reconnect_lost": {"Connecting": "Disconnected"},  # a reconnection whose server died
        "remove": {s: "Removed" for s in ("Connecting", "Up", "Disconnected", "Down", "Alert")},  # deleteHost
    },
    "Network": {
        "implement": {"Allocated": "Implementing", "Shutdown": "Implementing"},
        "implemented": {"Implementing": "Implemented", "Implemented": "Implemented"},
        "implement_failed": {"Implementing": "Allocated"},
        "unimplement": {"Implemented": "Allocated"},  # a failed deploy gives back the network it implemented
        "shutdown": {"Implemented": "Shutdown"},
        "destroy": {"Allocated": "Destroy", "Implemented": "Destroy", "Shutdown": "Destroy", "Setup": "Destroy"},
    },
    "Snapshot": {
        "backup": {"Allocated": "BackingUp", "CreatedOnPrimary": "BackingUp"},
        "backedup": {"BackingUp": "BackedUp"},
        "created": {"Allocated": "CreatedOnPrimary"},
        "failed": {"Allocated": "Error", "BackingUp": "Error", "CreatedOnPrimary": "Error"},
        "destroy": {"BackedUp": "Destroyed", "Error": "Destroyed", "CreatedOnPrimary": "Destroyed"},
        "revert": {"BackedUp": "BackedUp"},
        # a createSnapshot that failed or whose server died: the snapshot is dropped as Error
        "abandon": {s: "Error" for s in ("Allocated", "CreatedOnPrimary", "BackingUp", "BackedUp", "Error")},
    },
    "VMSnapshot": {
        "create": {"Allocated": "Creating"},
        "created": {"Creating": "Ready"},
        "failed": {"Creating": "Error", "Allocated": "Error"},
        "revert": {"Ready": "Reverting"},
        "reverted": {"Reverting": "Ready"},
        "delete": {"Ready": "Expunging", "Error": "Expunging"},
        "deleted": {"Expunging": "Removed"},
        # deleteAccount: removed with the account (its guest's snapshots went with the expunged VM)
        "purge": {s: "Removed" for s in VmSnapshotState if s != "Removed"},
        "delete_failed": {"Expunging": "Ready"},
        "revert_failed": {"Reverting": "Ready"},
    },
    "Domain": {
        "remove": {"Active": "Inactive", "Inactive": "Inactive"},
    },
    # enable/disable/lock are allowed from any live state (CloudStack answers the account as it is)
    "Account": {
        "enable": {s: "enabled" for s in ("enabled", "disabled", "locked")},
        "disable": {s: "disabled" for s in ("enabled", "disabled", "locked")},
        "lock": {s: "locked" for s in ("enabled", "disabled", "locked")},
        "remove": {s: "removed" for s in ("enabled", "disabled", "locked", "removed")},
    },
    "User": {
        "enable": {s: "enabled" for s in ("enabled", "disabled", "locked")},
        "disable": {s: "disabled" for s in ("enabled", "disabled", "locked")},
        "lock": {"enabled": "locked"},  # too many wrong passwords (virga.services.lockout)
        "remove": {s: "removed" for s in ("enabled", "disabled", "locked")},
    },
    **{kind: {"remove": {"Active": "Inactive"}} for kind in ("ServiceOffering", "DiskOffering")},
}

VERBS = {
    "start": "start",
    "stop": "stop",
    "reboot": "reboot",
    "migrate": "migrate",
    "destroy": "destroy",
    "recover": "recover",
    "expunge": "expunge",
    "resize": "resize",
    "snapshot": "snapshot",
    "revert": "revert",
    "delete": "delete",
    "create": "create",
}


def can(obj: Any, event: str) -> bool:
    """Whether the event is allowed from the object's current state."""
    machine = MACHINES[type(obj).__name__]
    return obj.state in machine.get(event, {})


def check(obj: Any, event: str) -> dict[str, str]:
    """Raise 431 explaining why an event is not allowed from the object's state (changes nothing); its moves."""
    kind = type(obj).__name__
    table = MACHINES[kind].get(event, {})
    if obj.state not in table:
        label = getattr(obj, "name", "") or obj.uuid
        raise InvalidParameter(
            f"Unable to {VERBS.get(event, event)} {kind} {label}: it is in state {obj.state}"
            + (f" (allowed from {', '.join(sorted(table))})" if table else "")
        )
    return table


def transition(obj: Any, event: str) -> str:
    """Move an object to its next state for an event, or raise 431 explaining why not."""
    table = check(obj, event)
    obj.state = STATES[type(obj).__name__](table[obj.state])
    return str(obj.state)


def core_transition(model: Any, event: str, where: Any, **values: Any) -> Any:
    """A Core UPDATE that moves the rows `where` selects through an event (rows in a state the event does not
    allow keep theirs) and sets `values` with it: for hot paths that write rows without loading them."""
    table = model.__table__
    moves = MACHINES[model.__name__][event]
    return table.update().where(where).values(state=case(moves, value=table.c.state, else_=table.c.state), **values)


def _check_machines() -> None:
    """Every state a machine names is one of its resource's enum members (checked at import)."""
    for kind, events in MACHINES.items():
        allowed = set(STATES[kind])
        for event, moves in events.items():
            bad = {x for pair in moves.items() for x in pair} - allowed
            if bad:
                raise RuntimeError(f"{kind} event {event} names unknown states {sorted(bad)}")


_check_machines()
