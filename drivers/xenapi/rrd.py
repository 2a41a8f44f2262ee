"""Reading a VM's round-robin database (XAPI's GET /vm_rrd, rrddump XML) into cumulative counters."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from virga.drivers.base import DriverError

# xcp-rrdd's per-VM data sources: DERIVE counters whose last_ds is the last raw (cumulative) reading.
COUNTERS = {
    "net_rx_bytes": re.compile(r"^vif_[^_]+_rx$"),
    "net_tx_bytes": re.compile(r"^vif_[^_]+_tx$"),
    "disk_read_bytes": re.compile(r"^vbd_[^_]+_read$"),
    "disk_write_bytes": re.compile(r"^vbd_[^_]+_write$"),
    "disk_read_ops": re.compile(r"^vbd_[^_]+_iops_read$"),
    "disk_write_ops": re.compile(r"^vbd_[^_]+_iops_write$"),
}


def rrd_totals(xml: bytes) -> dict[str, int]:
    """Sum the last raw readings of the VIF and VBD data sources per InstanceStats field."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as err:
        raise DriverError(f"XenServer /vm_rrd answered something that is not an RRD: {err}") from None
    totals = dict.fromkeys(COUNTERS, 0)
    for ds in root.iter("ds"):
        name, last = (ds.findtext("name") or "").strip(), (ds.findtext("last_ds") or "").strip()
        for field, pattern in COUNTERS.items():
            if pattern.match(name) and last not in ("", "NaN", "nan", "U"):
                totals[field] += int(float(last))
    return totals
