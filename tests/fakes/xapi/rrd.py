"""The fake's HTTP statistics handler: GET /vm_rrd?session_id=...&uuid=... answers an rrddump-style XML RRD.

Real XAPI (xcp-rrdd) keeps per-VM round-robin databases; a VM's disk and network counters are DERIVE data
sources named vif_<device>_rx/_tx and vbd_<device>_read/_write (bytes) and vbd_<device>_iops_read/_write,
and `last_ds` holds the last raw (cumulative) reading. The fake serves only the data sources and their last
readings (no archives), from counters a test sets with `workload()`.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.xapi.db import Database

STEP = 5


def workload(db: Database, vm_uuid: str, **counters: int) -> None:
    """Set raw counters of a VM's data sources (e.g. vif_0_rx=1000, vbd_xvda_read=4096)."""
    with db.lock:
        db.rrd.setdefault(vm_uuid, {}).update(counters)


def _sources(db: Database, vm: dict[str, Any]) -> dict[str, tuple[str, float]]:
    """The VM's data sources: name -> (type, last raw reading); zero for devices without a workload."""
    counters = db.rrd.get(vm["uuid"], {})
    out: dict[str, tuple[str, float]] = {"memory": ("GAUGE", float(vm.get("memory_dynamic_max", 0)))}
    for ref in vm.get("VIFs", []):
        dev = db.get("VIF", ref)["device"]
        for way in ("rx", "tx"):
            name = f"vif_{dev}_{way}"
            out[name] = ("DERIVE", float(counters.get(name, 0)))
    for ref in vm.get("VBDs", []):
        dev = db.get("VBD", ref).get("device") or ""
        if not dev:
            continue
        for kind in ("read", "write", "iops_read", "iops_write"):
            name = f"vbd_{dev}_{kind}"
            out[name] = ("DERIVE", float(counters.get(name, 0)))
    return out


def render(db: Database, vm: dict[str, Any]) -> bytes:
    """The VM's RRD as XML: version, step, lastupdate and one <ds> per data source."""
    root = ET.Element("rrd")
    for tag, text in (("version", "0003"), ("step", str(STEP)), ("lastupdate", str(int(time.time())))):
        ET.SubElement(root, tag).text = text
    for name, (kind, last) in _sources(db, vm).items():
        ds = ET.SubElement(root, "ds")
        for tag, text in (
            ("name", name),
            ("type", kind),
            ("minimal_heartbeat", "300.0000"),
            ("min", "0.0"),
            ("max", "Infinity"),
            ("last_ds", f"{last:.1f}"),
            ("value", "0.0"),
            ("unknown_sec", "0"),
        ):
            ET.SubElement(ds, tag).text = text
    return ET.tostring(root)


def answer(db: Database, path: str, query: str) -> tuple[int, bytes]:
    """(HTTP status, body) for a GET: 401 without a valid session_id, 404 for unknown paths or VMs."""
    if path != "/vm_rrd":
        return 404, b"not found"
    args = {k: v[0] for k, v in parse_qs(query).items()}
    if args.get("session_id") not in db.sessions:
        return 401, b"unauthorised"
    with db.lock:
        vm = next((r for r in db.table("VM").values() if r["uuid"] == args.get("uuid")), None)
        if vm is None:
            return 404, b"no such VM"
        return 200, render(db, vm)
