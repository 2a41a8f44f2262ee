"""Fake XAPI storage and device calls: VDI, VBD and VIF."""

from __future__ import annotations

from typing import Any

from tests.fakes.xapi.api import call
from tests.fakes.xapi.db import NULL, Database, XapiError

VDI_FIELDS = ("SR", "virtual_size", "type", "sharable", "read_only", "other_config")
VBD_FIELDS = (
    "VM",
    "VDI",
    "userdevice",
    "bootable",
    "mode",
    "type",
    "empty",
    "other_config",
    "qos_algorithm_type",
    "qos_algorithm_params",
)
VIF_FIELDS = ("device", "network", "VM", "MAC", "MTU", "other_config", "qos_algorithm_type", "qos_algorithm_params")


def require(record: dict[str, Any], fields: tuple[str, ...]) -> None:
    """Reject a creation record that lacks a mandatory field, as xapi does."""
    for name in fields:
        if name not in record:
            raise XapiError("FIELD_TYPE_ERROR", name)


def sr_usage(db: Database, sr: str) -> None:
    """Recompute an SR's utilisation from its VDIs (sizes are 64-bit ints sent as strings)."""
    used = sum(int(db.get("VDI", v)["physical_utilisation"]) for v in db.get("SR", sr)["VDIs"])
    virt = sum(int(db.get("VDI", v)["virtual_size"]) for v in db.get("SR", sr)["VDIs"])
    db.update("SR", sr, physical_utilisation=str(used), virtual_allocation=str(virt))


def make_vdi(db: Database, sr: str, size: int, name: str, **extra: Any) -> str:
    """Create a VDI record on an SR, checking there is room."""
    srec = db.get("SR", sr)
    if int(srec["physical_utilisation"]) + size > int(srec["physical_size"]):
        raise XapiError("SR_FULL", str(size), str(int(srec["physical_size"]) - int(srec["physical_utilisation"])))
    rec = {
        "name_label": name,
        "name_description": "",
        "SR": sr,
        "virtual_size": str(size),
        "physical_utilisation": str(size),
        "type": "user",
        "sharable": False,
        "read_only": False,
        "VBDs": [],
        "is_a_snapshot": False,
        "snapshot_of": NULL,
        "snapshots": [],
        "snapshot_time": "",
        "other_config": {},
        "managed": True,
        "missing": False,
        "location": "",
        "xenstore_data": {},
        "sm_config": {},
        "on_boot": "persist",
        "allow_caching": False,
        "metadata_latest": False,
    }
    rec.update(extra)
    ref = db.add("VDI", rec)
    db.link("SR", sr, "VDIs", ref)
    sr_usage(db, sr)
    return ref


@call("VDI.create")
def vdi_create(db: Database, record: dict[str, Any]) -> str:
    """Create a blank VDI."""
    require(record, VDI_FIELDS)
    db.get("SR", record["SR"])
    extra = {k: record[k] for k in ("type", "sharable", "read_only", "other_config", "name_description") if k in record}
    return make_vdi(db, record["SR"], int(record["virtual_size"]), record.get("name_label", ""), **extra)


@call("VDI.copy")
def vdi_copy(db: Database, vdi: str, sr: str) -> str:
    """Copy a VDI (its content) onto an SR."""
    src = db.get("VDI", vdi)
    target = src["SR"] if sr == NULL else sr
    db.get("SR", target)
    return make_vdi(
        db,
        target,
        int(src["virtual_size"]),
        src["name_label"],
        type=src["type"],
        other_config=dict(src["other_config"]),
    )


@call("VDI.clone")
def vdi_clone(db: Database, vdi: str, driver_params: dict[str, str]) -> str:
    """Clone a VDI on its own SR."""
    src = db.get("VDI", vdi)
    return make_vdi(
        db,
        src["SR"],
        int(src["virtual_size"]),
        src["name_label"],
        type=src["type"],
        other_config=dict(src["other_config"]),
    )


@call("VDI.snapshot")
def vdi_snapshot(db: Database, vdi: str, driver_params: dict[str, str]) -> str:
    """Snapshot a VDI: a read-only copy marked is_a_snapshot."""
    src = db.get("VDI", vdi)
    snap = make_vdi(
        db,
        src["SR"],
        int(src["virtual_size"]),
        src["name_label"],
        type=src["type"],
        is_a_snapshot=True,
        snapshot_of=vdi,
        read_only=True,
    )
    db.link("VDI", vdi, "snapshots", snap)
    return snap


@call("VDI.resize")
def vdi_resize(db: Database, vdi: str, size: str) -> str:
    """Grow a VDI (shrinking is refused)."""
    rec = db.get("VDI", vdi)
    if int(size) < int(rec["virtual_size"]):
        raise XapiError("SR_OPERATION_NOT_SUPPORTED", rec["SR"], "VDIs cannot shrink")
    db.update("VDI", vdi, virtual_size=str(int(size)), physical_utilisation=str(int(size)))
    sr_usage(db, rec["SR"])
    return ""


@call("VDI.destroy")
def vdi_destroy(db: Database, vdi: str) -> str:
    """Destroy a VDI; refused while a VBD has it plugged; unplugged VBDs go with it."""
    rec = db.get("VDI", vdi)
    for vbd in rec["VBDs"]:
        if db.get("VBD", vbd)["currently_attached"]:
            raise XapiError("VDI_IN_USE", vdi, "destroy")
    for vbd in list(rec["VBDs"]):
        vbd_destroy(db, vbd)
    if rec["snapshot_of"] != NULL:
        db.link("VDI", rec["snapshot_of"], "snapshots", vdi, add=False)
    db.delete("VDI", vdi)
    db.link("SR", rec["SR"], "VDIs", vdi, add=False)
    sr_usage(db, rec["SR"])
    return ""


def make_vbd(db: Database, record: dict[str, Any]) -> str:
    """Create a VBD linking a VM and a VDI (or an empty CD drive)."""
    vm = db.get("VM", record["VM"])
    if record["VDI"] != NULL:
        db.get("VDI", record["VDI"])
    taken = {db.get("VBD", b)["userdevice"] for b in vm["VBDs"]}
    if record["userdevice"] in taken:
        raise XapiError("DEVICE_ALREADY_EXISTS", record["userdevice"])
    rec = {k: record[k] for k in VBD_FIELDS}
    rec.update(
        device="",
        currently_attached=False,
        unpluggable=record.get("unpluggable", True),
        storage_lock=False,
        status_code="0",
        status_detail="",
        runtime_properties={},
    )
    ref = db.add("VBD", rec)
    db.link("VM", record["VM"], "VBDs", ref)
    if record["VDI"] != NULL:
        db.link("VDI", record["VDI"], "VBDs", ref)
    return ref


@call("VBD.create")
def vbd_create(db: Database, record: dict[str, Any]) -> str:
    """Create a VBD (not plugged until VBD.plug when the VM runs)."""
    require(record, VBD_FIELDS)
    return make_vbd(db, record)


def _running_vm(db: Database, vm: str) -> None:
    """Hot-plug needs a running VM."""
    state = db.get("VM", vm)["power_state"]
    if state != "Running":
        raise XapiError("VM_BAD_POWER_STATE", vm, "running", state.lower())


@call("VBD.plug")
def vbd_plug(db: Database, vbd: str) -> str:
    """Hot-plug a VBD into its running VM."""
    rec = db.get("VBD", vbd)
    _running_vm(db, rec["VM"])
    if rec["currently_attached"]:
        raise XapiError("DEVICE_ALREADY_ATTACHED", vbd)
    db.update("VBD", vbd, currently_attached=True, device=f"xvd{chr(ord('a') + int(rec['userdevice']))}")
    return ""


@call("VBD.unplug")
def vbd_unplug(db: Database, vbd: str) -> str:
    """Hot-unplug a VBD from its running VM."""
    rec = db.get("VBD", vbd)
    _running_vm(db, rec["VM"])
    if not rec["currently_attached"]:
        raise XapiError("DEVICE_ALREADY_DETACHED", vbd)
    db.update("VBD", vbd, currently_attached=False)
    return ""


@call("VBD.destroy")
def vbd_destroy(db: Database, vbd: str) -> str:
    """Remove a VBD; refused while it is plugged."""
    rec = db.get("VBD", vbd)
    if rec["currently_attached"]:
        raise XapiError("OPERATION_NOT_ALLOWED", "VBD is currently attached; unplug it first")
    db.delete("VBD", vbd)
    db.link("VM", rec["VM"], "VBDs", vbd, add=False)
    if rec["VDI"] != NULL:
        db.link("VDI", rec["VDI"], "VBDs", vbd, add=False)
    return ""


@call("VIF.create")
def vif_create(db: Database, record: dict[str, Any]) -> str:
    """Create a VIF on a network."""
    require(record, VIF_FIELDS)
    vm = db.get("VM", record["VM"])
    db.get("network", record["network"])
    if record["device"] in {db.get("VIF", v)["device"] for v in vm["VIFs"]}:
        raise XapiError("DEVICE_ALREADY_EXISTS", record["device"])
    rec = {k: record[k] for k in VIF_FIELDS}
    rec.update(currently_attached=vm["power_state"] == "Running", locking_mode="network_default")
    ref = db.add("VIF", rec)
    db.link("VM", record["VM"], "VIFs", ref)
    db.link("network", record["network"], "VIFs", ref)
    return ref


@call("VIF.destroy")
def vif_destroy(db: Database, vif: str) -> str:
    """Remove a VIF."""
    rec = db.get("VIF", vif)
    db.delete("VIF", vif)
    db.link("VM", rec["VM"], "VIFs", vif, add=False)
    db.link("network", rec["network"], "VIFs", vif, add=False)
    return ""
