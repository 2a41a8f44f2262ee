"""Fake XAPI VM calls: power cycle, clone/copy/provision, snapshots, migration, sizing."""

from __future__ import annotations

import copy
import time
import xml.etree.ElementTree as ET
from typing import Any

from tests.fakes.xapi.api import call, current_task
from tests.fakes.xapi.db import NULL, Database, XapiError, now
from tests.fakes.xapi.devices import (
    make_vbd,
    make_vdi,
    vbd_destroy,
    vdi_clone,
    vdi_copy,
    vdi_destroy,
    vdi_snapshot,
    vif_create,
    vif_destroy,
)

ACPI_WAIT = 30.0


def power(db: Database, vm: str, *allowed: str) -> dict[str, Any]:
    """The VM record, or VM_BAD_POWER_STATE naming the expected and actual states."""
    rec = db.get("VM", vm)
    if rec["power_state"] not in allowed:
        raise XapiError("VM_BAD_POWER_STATE", vm, allowed[0].lower(), rec["power_state"].lower())
    return rec


def real_vm(db: Database, vm: str, op: str) -> dict[str, Any]:
    """Refuse templates and snapshots for operations on running guests."""
    rec = db.get("VM", vm)
    if rec["is_a_template"]:
        raise XapiError("VM_IS_TEMPLATE", vm, op)
    return rec


def _boot(db: Database, vm: str, host: str) -> None:
    """Mark a VM running on a host: domid, devices attached, console, metrics."""
    rec = db.get("VM", vm)
    address = db.get("host", host)["address"]
    console = db.add("console", {"protocol": "rfb", "location": "", "VM": vm, "other_config": {}})
    db.update("console", console, location=f"https://{address}/console?ref={console}")
    for vbd in rec["VBDs"]:
        userdevice = db.get("VBD", vbd)["userdevice"]
        db.update("VBD", vbd, currently_attached=True, device=f"xvd{chr(ord('a') + int(userdevice))}")
    for vif in rec["VIFs"]:
        db.update("VIF", vif, currently_attached=True)
    db.update(
        "VM_metrics",
        rec["metrics"],
        memory_actual=rec["memory_dynamic_max"],
        VCPUs_number=rec["VCPUs_at_startup"],
        start_time=now(),
        last_updated=now(),
        VCPUs_utilisation={str(i): 0.05 for i in range(int(rec["VCPUs_at_startup"]))},
    )
    db.link("host", host, "resident_VMs", vm)
    db.update("VM", vm, power_state="Running", resident_on=host, domid=str(len(db.table("VM")) + 1), consoles=[console])


def _halt(db: Database, vm: str) -> None:
    """Mark a VM halted: devices detached, console gone, not resident anywhere."""
    rec = db.get("VM", vm)
    for console in rec["consoles"]:
        db.delete("console", console)
    for vbd in rec["VBDs"]:
        db.update("VBD", vbd, currently_attached=False)
    for vif in rec["VIFs"]:
        db.update("VIF", vif, currently_attached=False)
    db.update("VM_metrics", rec["metrics"], memory_actual="0", VCPUs_utilisation={})
    db.link("host", rec["resident_on"], "resident_VMs", vm, add=False)
    db.update("VM", vm, power_state="Halted", resident_on=NULL, domid="-1", consoles=[])


def _master(db: Database) -> str:
    """The pool master's host ref."""
    return next(iter(db.table("pool").values()))["master"]


@call("VM.start")
def vm_start(db: Database, vm: str, start_paused: bool, force: bool) -> str:
    """Boot a halted VM on its affinity host (or the master)."""
    rec = real_vm(db, vm, "start")
    host = rec["affinity"] if db.exists("host", rec["affinity"]) else _master(db)
    return vm_start_on(db, vm, host, start_paused, force)


@call("VM.start_on")
def vm_start_on(db: Database, vm: str, host: str, start_paused: bool, force: bool) -> str:
    """Boot a halted VM on a given host."""
    with db.lock:
        real_vm(db, vm, "start")
        power(db, vm, "Halted")
        db.get("host", host)
        _boot(db, vm, host)
        if start_paused:
            db.update("VM", vm, power_state="Paused")
    return ""


@call("VM.clean_shutdown")
def vm_clean_shutdown(db: Database, vm: str) -> str:
    """ACPI shutdown; a guest with other_config fake_ignore_acpi=true never complies."""
    rec = power(db, vm, "Running")
    if rec["other_config"].get("fake_ignore_acpi") == "true":
        _wait_for_cancel(db, vm)
    with db.lock:
        power(db, vm, "Running")
        _halt(db, vm)
    return ""


def _wait_for_cancel(db: Database, vm: str) -> None:
    """Block like a guest ignoring ACPI until the task is cancelled or xapi gives up."""
    task = current_task()
    deadline = time.monotonic() + ACPI_WAIT
    while time.monotonic() < deadline:
        if task and (not db.exists("task", task) or db.get("task", task)["status"] == "cancelling"):
            raise XapiError("TASK_CANCELLED", task)
        if db.get("VM", vm)["power_state"] != "Running":
            raise XapiError("VM_BAD_POWER_STATE", vm, "running", db.get("VM", vm)["power_state"].lower())
        time.sleep(0.02)
    raise XapiError("VM_SHUTDOWN_TIMEOUT", vm, str(ACPI_WAIT))


@call("VM.hard_shutdown")
def vm_hard_shutdown(db: Database, vm: str) -> str:
    """Power a VM off at once."""
    with db.lock:
        power(db, vm, "Running", "Paused", "Suspended")
        _halt(db, vm)
    return ""


@call("VM.clean_reboot")
def vm_clean_reboot(db: Database, vm: str) -> str:
    """Reboot a running VM (it stays resident where it is)."""
    power(db, vm, "Running")
    db.update("VM_metrics", db.get("VM", vm)["metrics"], start_time=now())
    return ""


@call("VM.hard_reboot")
def vm_hard_reboot(db: Database, vm: str) -> str:
    """Reset a running VM."""
    return vm_clean_reboot(db, vm)


@call("VM.pause")
def vm_pause(db: Database, vm: str) -> str:
    """Pause a running VM."""
    power(db, vm, "Running")
    db.update("VM", vm, power_state="Paused")
    return ""


@call("VM.unpause")
def vm_unpause(db: Database, vm: str) -> str:
    """Resume a paused VM."""
    power(db, vm, "Paused")
    db.update("VM", vm, power_state="Running")
    return ""


@call("VM.destroy")
def vm_destroy(db: Database, vm: str) -> str:
    """Remove a halted VM with its VBDs and VIFs (its VDIs stay)."""
    with db.lock:
        rec = power(db, vm, "Halted", "Suspended")
        for vbd in list(rec["VBDs"]):
            vbd_destroy(db, vbd)
        for vif in list(rec["VIFs"]):
            vif_destroy(db, vif)
        if db.exists("VM_metrics", rec["metrics"]):
            db.delete("VM_metrics", rec["metrics"])
        if rec["snapshot_of"] != NULL:
            db.link("VM", rec["snapshot_of"], "snapshots", vm, add=False)
        db.delete("VM", vm)
    return ""


def new_vm(db: Database, **fields: Any) -> str:
    """Create a VM record (halted, no devices) with its VM_metrics."""
    metrics = db.add(
        "VM_metrics",
        {
            "memory_actual": "0",
            "VCPUs_number": "0",
            "VCPUs_utilisation": {},
            "start_time": "19700101T00:00:00Z",
            "last_updated": now(),
            "other_config": {},
        },
    )
    rec: dict[str, Any] = {
        "name_label": "",
        "name_description": "",
        "power_state": "Halted",
        "is_a_template": False,
        "is_a_snapshot": False,
        "is_control_domain": False,
        "snapshot_of": NULL,
        "snapshots": [],
        "snapshot_time": "19700101T00:00:00Z",
        "resident_on": NULL,
        "affinity": NULL,
        "VCPUs_max": "1",
        "VCPUs_at_startup": "1",
        "memory_static_min": str(128 << 20),
        "memory_static_max": str(256 << 20),
        "memory_dynamic_min": str(256 << 20),
        "memory_dynamic_max": str(256 << 20),
        "VBDs": [],
        "VIFs": [],
        "consoles": [],
        "metrics": metrics,
        "other_config": {},
        "domid": "-1",
        "HVM_boot_policy": "BIOS order",
        "PV_bootloader": "",
        "platform": {},
        "blocked_operations": {},
        "tags": [],
    }
    rec.update(fields)
    return db.add("VM", rec)


def _duplicate(db: Database, vm: str, name: str, sr: str | None, **fields: Any) -> str:
    """Copy a VM record and its devices; disks are cloned (sr None) or copied onto sr."""
    src = db.get("VM", vm)
    keep = {
        k: copy.deepcopy(v)
        for k, v in src.items()
        if k not in ("uuid", "VBDs", "VIFs", "consoles", "metrics", "snapshots", "resident_on")
    }
    keep.update(name_label=name, snapshot_of=NULL, is_a_snapshot=False, power_state="Halted", **fields)
    new = new_vm(db, **keep)
    for vbd in src["VBDs"]:
        brec = dict(db.get("VBD", vbd), VM=new)
        if brec["VDI"] != NULL and brec["type"] == "Disk":
            brec["VDI"] = vdi_clone(db, brec["VDI"], {}) if sr is None else vdi_copy(db, brec["VDI"], sr)
        make_vbd(db, brec)
    for vif in src["VIFs"]:
        vif_create(db, dict(db.get("VIF", vif), VM=new))
    return new


@call("VM.clone")
def vm_clone(db: Database, vm: str, new_name: str) -> str:
    """Clone a halted VM or template; its disks are cloned on their SR."""
    power(db, vm, "Halted")
    return _duplicate(db, vm, new_name, None)


@call("VM.copy")
def vm_copy(db: Database, vm: str, new_name: str, sr: str) -> str:
    """Copy a halted VM or template; its disks are copied onto the SR (NULL: where they are)."""
    power(db, vm, "Halted")
    if sr != NULL:
        db.get("SR", sr)
    return _duplicate(db, vm, new_name, sr)


@call("VM.provision")
def vm_provision(db: Database, vm: str) -> str:
    """Create the disks listed in other_config:disks (a <provision> document) and drop that key."""
    rec = db.get("VM", vm)
    spec = rec["other_config"].get("disks", "")
    if spec:
        for disk in ET.fromstring(spec).iter("disk"):
            sr = disk.get("sr") or next(iter(db.table("pool").values()))["default_SR"]
            sr_ref = db.by_uuid("SR", sr) if not sr.startswith("OpaqueRef:") else sr
            vdi = make_vdi(
                db,
                sr_ref,
                int(disk.get("size", "0")),
                f"{rec['name_label']} {disk.get('device')}",
                type=disk.get("type", "system"),
            )
            make_vbd(
                db,
                {
                    "VM": vm,
                    "VDI": vdi,
                    "userdevice": disk.get("device", "0"),
                    "mode": "RW",
                    "type": "Disk",
                    "bootable": disk.get("bootable") == "true",
                    "empty": False,
                    "other_config": {"owner": "true"},
                    "qos_algorithm_type": "",
                    "qos_algorithm_params": {},
                },
            )
    db.update("VM", vm, other_config={k: v for k, v in rec["other_config"].items() if k != "disks"})
    return ""


@call("VM.snapshot")
def vm_snapshot(db: Database, vm: str, new_name: str) -> str:
    """Snapshot a VM's disks and configuration into a snapshot VM."""
    src = real_vm(db, vm, "snapshot")
    keep = {
        k: copy.deepcopy(v)
        for k, v in src.items()
        if k not in ("uuid", "VBDs", "VIFs", "consoles", "metrics", "snapshots", "resident_on", "power_state")
    }
    keep.update(name_label=new_name, is_a_snapshot=True, is_a_template=True, snapshot_of=vm, snapshot_time=now())
    snap = new_vm(db, **keep)
    for vbd in src["VBDs"]:
        brec = dict(db.get("VBD", vbd), VM=snap)
        if brec["VDI"] != NULL and brec["type"] == "Disk":
            brec["VDI"] = vdi_snapshot(db, brec["VDI"], {})
        make_vbd(db, brec)
    db.link("VM", vm, "snapshots", snap)
    return snap


@call("VM.revert")
def vm_revert(db: Database, snapshot: str) -> str:
    """Bring the snapshotted VM back to the snapshot: disks replaced by clones, halted, sizes restored."""
    with db.lock:
        snap = db.get("VM", snapshot)
        if not snap["is_a_snapshot"]:
            raise XapiError("OPERATION_NOT_ALLOWED", f"{snapshot} is not a snapshot")
        vm = snap["snapshot_of"]
        rec = db.get("VM", vm)
        if rec["power_state"] != "Halted":
            _halt(db, vm)
        for vbd in list(rec["VBDs"]):
            brec = db.get("VBD", vbd)
            if brec["type"] == "Disk" and brec["VDI"] != NULL:
                old = brec["VDI"]
                vbd_destroy(db, vbd)
                vdi_destroy(db, old)
        for vbd in db.get("VM", snapshot)["VBDs"]:
            brec = dict(db.get("VBD", vbd), VM=vm)
            if brec["type"] == "Disk" and brec["VDI"] != NULL:
                brec["VDI"] = vdi_clone(db, brec["VDI"], {})
            make_vbd(db, brec)
        sizes = {k: snap[k] for k in snap if k.startswith(("VCPUs_", "memory_"))}
        db.update("VM", vm, **sizes)
    return ""


@call("VM.pool_migrate")
def vm_pool_migrate(db: Database, vm: str, host: str, options: dict[str, str]) -> str:
    """Live-migrate a running VM to another host of the pool."""
    with db.lock:
        rec = power(db, vm, "Running")
        db.get("host", host)
        if rec["resident_on"] == host:
            raise XapiError("VM_MIGRATE_FAILED", vm, host, host, "the VM is already on that host")
        db.link("host", rec["resident_on"], "resident_VMs", vm, add=False)
        db.link("host", host, "resident_VMs", vm)
        db.update("VM", vm, resident_on=host)
    return ""


@call("VM.set_VCPUs_max")
def vm_set_vcpus_max(db: Database, vm: str, value: str) -> str:
    """Set the VCPU ceiling of a halted VM."""
    power(db, vm, "Halted")
    if int(value) < int(db.get("VM", vm)["VCPUs_at_startup"]):
        raise XapiError("VALUE_NOT_SUPPORTED", "VCPUs_max", value, "VCPUs_max must be >= VCPUs_at_startup")
    db.update("VM", vm, VCPUs_max=str(int(value)))
    return ""


@call("VM.set_VCPUs_at_startup")
def vm_set_vcpus_at_startup(db: Database, vm: str, value: str) -> str:
    """Set the boot VCPU count (at most VCPUs_max)."""
    if int(value) > int(db.get("VM", vm)["VCPUs_max"]) or int(value) < 1:
        raise XapiError("VALUE_NOT_SUPPORTED", "VCPUs_at_startup", value, "must be between 1 and VCPUs_max")
    db.update("VM", vm, VCPUs_at_startup=str(int(value)))
    return ""


@call("VM.set_memory_limits")
def vm_set_memory_limits(db: Database, vm: str, smin: str, smax: str, dmin: str, dmax: str) -> str:
    """Set the four memory limits (static_min <= dynamic_min <= dynamic_max <= static_max)."""
    power(db, vm, "Halted")
    if not int(smin) <= int(dmin) <= int(dmax) <= int(smax):
        raise XapiError("MEMORY_CONSTRAINT_VIOLATION", "static_min <= dynamic_min <= dynamic_max <= static_max")
    db.update(
        "VM", vm, memory_static_min=smin, memory_static_max=smax, memory_dynamic_min=dmin, memory_dynamic_max=dmax
    )
    return ""
