"""The fake pool's initial content: 2 hosts, 2 SRs, networks and two templates."""

from __future__ import annotations

from tests.fakes.xapi.db import NULL, Database
from tests.fakes.xapi.devices import make_vbd, make_vdi
from tests.fakes.xapi.vm import new_vm

GIB = 1 << 30
PROVISION = '<provision><disk device="0" size="{size}" sr="" bootable="true" type="system"/></provision>'


def _host(db: Database, name: str, address: str) -> str:
    """A host with its metrics, CPUs and control domain."""
    metrics = db.add(
        "host_metrics",
        {
            "memory_total": str(64 * GIB),
            "memory_free": str(60 * GIB),
            "live": True,
            "last_updated": "20260101T00:00:00Z",
            "other_config": {},
        },
    )
    host = db.add(
        "host",
        {
            "name_label": name,
            "name_description": "",
            "hostname": name,
            "address": address,
            "enabled": True,
            "software_version": {
                "product_brand": "XCP-ng",
                "product_version": "8.3.0",
                "platform_version": "3.4.0",
                "xen": "4.17.5",
            },
            "API_version_major": "2",
            "API_version_minor": "21",
            "metrics": metrics,
            "host_CPUs": [],
            "resident_VMs": [],
            "PIFs": [],
            "PBDs": [],
            "other_config": {},
            "memory_overhead": str(512 << 20),
            "cpu_info": {
                "cpu_count": "8",
                "socket_count": "1",
                "vendor": "GenuineIntel",
                "speed": "2600.000",
                "modelname": "Intel(R) Xeon(R) CPU E5-2650 v2 @ 2.60GHz",
            },
        },
    )
    cpus = [
        db.add(
            "host_cpu",
            {
                "host": host,
                "number": str(i),
                "vendor": "GenuineIntel",
                "speed": "2600",
                "modelname": "Intel(R) Xeon(R) CPU E5-2650 v2 @ 2.60GHz",
                "utilisation": 0.02,
                "other_config": {},
            },
        )
        for i in range(8)
    ]
    db.update("host", host, host_CPUs=cpus)
    dom0 = new_vm(
        db,
        name_label=f"Control domain on host: {name}",
        is_control_domain=True,
        power_state="Running",
        resident_on=host,
        domid="0",
    )
    db.update("host", host, resident_VMs=[dom0])
    return host


def _sr(db: Database, name: str, kind: str, shared: bool, size: int) -> str:
    """A storage repository."""
    return db.add(
        "SR",
        {
            "name_label": name,
            "name_description": "",
            "type": kind,
            "content_type": "user",
            "shared": shared,
            "physical_size": str(size),
            "physical_utilisation": "0",
            "virtual_allocation": "0",
            "VDIs": [],
            "PBDs": [],
            "other_config": {},
            "sm_config": {},
            "tags": [],
        },
    )


def _network(db: Database, name: str, bridge: str, hosts: list[str], vlan: int) -> str:
    """A network with one PIF per host (VLAN -1 is untagged)."""
    net = db.add(
        "network",
        {
            "name_label": name,
            "name_description": "",
            "bridge": bridge,
            "MTU": "1500",
            "VIFs": [],
            "PIFs": [],
            "other_config": {},
            "managed": True,
        },
    )
    for i, host in enumerate(hosts):
        pif = db.add(
            "PIF",
            {
                "device": "eth0",
                "network": net,
                "host": host,
                "MAC": f"02:aa:00:00:0{i}:01",
                "VLAN": str(vlan),
                "management": vlan == -1,
                "currently_attached": True,
                "other_config": {},
            },
        )
        db.link("network", net, "PIFs", pif)
        db.link("host", host, "PIFs", pif)
    return net


def populate(db: Database, address: str = "127.0.0.1") -> None:
    """Fill an empty database with a two-host pool, its storage, networks and templates."""
    db.users["root"] = "password"
    hosts = [_host(db, "xs1", address), _host(db, "xs2", address)]
    shared = _sr(db, "NFS shared", "nfs", True, 500 * GIB)
    _sr(db, "Local storage xs1", "lvm", False, 100 * GIB)
    db.add(
        "pool",
        {
            "name_label": "virga-lab",
            "name_description": "",
            "master": hosts[0],
            "default_SR": shared,
            "other_config": {},
            "tags": [],
        },
    )
    _network(db, "Pool-wide network associated with eth0", "xenbr0", hosts, -1)
    _network(db, "VLAN 100", "xapi1", hosts, 100)
    tiny = new_vm(db, name_label="Tiny Linux", is_a_template=True, other_config={"os": "Other Linux (64-bit)"})
    disk = make_vdi(db, shared, GIB, "Tiny Linux root", type="system")
    make_vbd(
        db,
        {
            "VM": tiny,
            "VDI": disk,
            "userdevice": "0",
            "bootable": True,
            "mode": "RW",
            "type": "Disk",
            "empty": False,
            "other_config": {},
            "qos_algorithm_type": "",
            "qos_algorithm_params": {},
        },
    )
    new_vm(
        db,
        name_label="Debian Bookworm 12",
        is_a_template=True,
        affinity=NULL,
        other_config={"disks": PROVISION.format(size=2 * GIB), "os": "Debian Bookworm 12"},
    )
