"""One state machine per resource type: the only way states change."""

from __future__ import annotations

from typing import Any

from virga.errors import InvalidParameter

MACHINES: dict[str, dict[str, dict[str, str]]] = {
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
    },
    "Host": {
        "connected": {"Connecting": "Up", "Disconnected": "Up", "Down": "Up", "Up": "Up", "Alert": "Up"},
        "lost": {"Up": "Disconnected", "Connecting": "Disconnected", "Alert": "Disconnected"},
        "down": {"Disconnected": "Down"},
        "reconnect": {s: "Connecting" for s in ("Up", "Disconnected", "Down", "Alert", "Connecting")},
    },
    "Network": {
        "implement": {"Allocated": "Implementing", "Shutdown": "Implementing"},
        "implemented": {"Implementing": "Implemented", "Implemented": "Implemented"},
        "implement_failed": {"Implementing": "Allocated"},
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
    },
    "VMSnapshot": {
        "create": {"Allocated": "Creating"},
        "created": {"Creating": "Ready"},
        "failed": {"Creating": "Error", "Allocated": "Error"},
        "revert": {"Ready": "Reverting"},
        "reverted": {"Reverting": "Ready"},
        "delete": {"Ready": "Expunging", "Error": "Expunging"},
        "deleted": {"Expunging": "Removed"},
        "delete_failed": {"Expunging": "Ready"},
    },
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


def transition(obj: Any, event: str) -> str:
    """Move an object to its next state for an event, or raise 431 explaining why not."""
    kind = type(obj).__name__
    table = MACHINES[kind].get(event, {})
    if obj.state not in table:
        label = getattr(obj, "name", "") or obj.uuid
        raise InvalidParameter(
            f"Unable to {VERBS.get(event, event)} {kind} {label}: it is in state {obj.state}"
            + (f" (allowed from {', '.join(sorted(table))})" if table else "")
        )
    obj.state = table[obj.state]
    return str(obj.state)
