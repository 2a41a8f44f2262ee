"""Fixed demo data behind a VirgaClient double, so snapshots are identical on every run."""

from __future__ import annotations

from typing import Any

from virga.client import ApiError, VirgaClient

T0 = "2026-01-05T10:00:00+0000"


def uid(kind: str, n: int) -> str:
    """A stable fake uuid."""
    return f"{kind[:4]:0<8}-0000-4000-8000-{n:012d}"


def _vm(n: int, name: str, state: str, host: str, off: str = "Small Instance") -> dict[str, Any]:
    """A demo VM."""
    return {
        "id": uid("vm", n),
        "name": name,
        "displayname": name,
        "state": state,
        "hostname": host,
        "serviceofferingname": off,
        "templatename": "tiny-linux",
        "zonename": "lab-zone",
        "created": T0,
        "account": "admin",
        "nic": [{"ipaddress": f"10.1.1.{10 + n}", "isdefault": True, "networkid": uid("net", 1 if n <= 3 else 2)}],
    }


DATA: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "listZones": (
        "zone",
        [
            {
                "id": uid("zone", 1),
                "name": "lab-zone",
                "allocationstate": "Enabled",
                "networktype": "Advanced",
                "dns1": "192.0.2.53",
                "guestcidraddress": "10.1.0.0/16",
            }
        ],
    ),
    "listPods": (
        "pod",
        [
            {
                "id": uid("pod", 1),
                "name": "pod-1",
                "zoneid": uid("zone", 1),
                "zonename": "lab-zone",
                "allocationstate": "Enabled",
                "gateway": "172.16.0.1",
                "netmask": "255.255.255.0",
            }
        ],
    ),
    "listClusters": (
        "cluster",
        [
            {
                "id": uid("clus", 1),
                "name": "cluster-1",
                "podid": uid("pod", 1),
                "zoneid": uid("zone", 1),
                "podname": "pod-1",
                "zonename": "lab-zone",
                "hypervisortype": "Simulator",
                "allocationstate": "Enabled",
            }
        ],
    ),
    "listHosts": (
        "host",
        [
            {
                "id": uid("host", i),
                "name": f"sim-host-{i}",
                "state": "Up",
                "resourcestate": "Enabled" if i == 1 else "Maintenance",
                "hypervisor": "Simulator",
                "ipaddress": f"172.16.0.{20 + i}",
                "clusterid": uid("clus", 1),
                "podid": uid("pod", 1),
                "zoneid": uid("zone", 1),
                "clustername": "cluster-1",
                "cpunumber": 8,
                "memorytotal": 17179869184,
                "zonename": "lab-zone",
            }
            for i in (1, 2)
        ],
    ),
    "listVirtualMachines": (
        "virtualmachine",
        [
            _vm(1, "web-1", "Running", "sim-host-1"),
            _vm(2, "web-2", "Running", "sim-host-1"),
            _vm(3, "db-1", "Stopped", "", "Medium Instance"),
            _vm(4, "cache-1", "Starting", "sim-host-1"),
            _vm(5, "old-1", "Destroyed", ""),
            _vm(6, "batch-1", "Error", ""),
        ],
    ),
    "listVolumes": (
        "volume",
        [
            {
                "id": uid("vol", 1),
                "name": "ROOT-1",
                "state": "Ready",
                "type": "ROOT",
                "size": 2147483648,
                "vmname": "web-1",
                "storage": "primary-1",
                "zonename": "lab-zone",
                "created": T0,
            },
            {
                "id": uid("vol", 2),
                "name": "data-1",
                "state": "Allocated",
                "type": "DATADISK",
                "size": 10737418240,
                "zonename": "lab-zone",
                "created": T0,
            },
        ],
    ),
    "listSnapshots": (
        "snapshot",
        [
            {
                "id": uid("snap", 1),
                "name": "web-1-root-snap",
                "state": "BackedUp",
                "volumename": "ROOT-1",
                "intervaltype": "MANUAL",
                "created": T0,
            }
        ],
    ),
    "listTemplates": (
        "template",
        [
            {
                "id": uid("tmpl", 1),
                "name": "tiny-linux",
                "status": "Download Complete",
                "isready": True,
                "hypervisor": "Simulator",
                "format": "QCOW2",
                "size": 2147483648,
                "zonename": "lab-zone",
                "created": T0,
            },
            {
                "id": uid("tmpl", 2),
                "name": "debian-12",
                "status": "42% Downloaded",
                "isready": False,
                "hypervisor": "KVM",
                "format": "QCOW2",
                "zonename": "lab-zone",
                "created": T0,
            },
        ],
    ),
    "listNetworks": (
        "network",
        [
            {
                "id": uid("net", 1),
                "name": "web-net",
                "zoneid": uid("zone", 1),
                "state": "Implemented",
                "type": "Isolated",
                "cidr": "10.1.1.0/24",
                "zonename": "lab-zone",
                "account": "admin",
                "networkofferingname": "DefaultIsolatedNetworkOfferingWithSourceNatService",
            },
            {
                "id": uid("net", 2),
                "name": "db-net",
                "state": "Allocated",
                "type": "Isolated",
                "cidr": "10.1.2.0/24",
                "zoneid": uid("zone", 1),
                "zonename": "lab-zone",
                "account": "admin",
                "networkofferingname": "DefaultIsolatedNetworkOfferingWithSourceNatService",
            },
        ],
    ),
    "listFirewallRules": (
        "firewallrule",
        [
            {
                "id": uid("fw", 1),
                "ipaddressid": uid("ip", 1),
                "ipaddress": "198.51.100.10",
                "protocol": "tcp",
                "startport": 22,
                "endport": 22,
                "cidrlist": "0.0.0.0/0",
                "state": "Active",
            }
        ],
    ),
    "listPortForwardingRules": (
        "portforwardingrule",
        [
            {
                "id": uid("pf", 1),
                "ipaddressid": uid("ip", 1),
                "ipaddress": "198.51.100.10",
                "publicport": "22",
                "privateport": "22",
                "protocol": "tcp",
                "virtualmachineid": uid("vm", 1),
                "virtualmachinename": "web-1",
                "state": "Active",
            }
        ],
    ),
    "listLoadBalancerRules": (
        "loadbalancerrule",
        [
            {
                "id": uid("lb", 1),
                "name": "web-lb",
                "publicipid": uid("ip", 1),
                "publicip": "198.51.100.10",
                "publicport": "80",
                "privateport": "80",
                "algorithm": "roundrobin",
                "networkid": uid("net", 1),
                "state": "Active",
            }
        ],
    ),
    "listRouters": (
        "router",
        [
            {
                "id": uid("rtr", 1),
                "name": "r-1-VM",
                "state": "Running",
                "publicip": "198.51.100.10",
                "guestipaddress": "10.1.1.1",
                "guestnetworkid": uid("net", 1),
                "guestnetworkname": "web-net",
                "hostname": "sim-host-1",
            }
        ],
    ),
    "listPublicIpAddresses": (
        "publicipaddress",
        [
            {
                "id": uid("ip", 1),
                "ipaddress": "198.51.100.10",
                "state": "Allocated",
                "issourcenat": True,
                "associatednetworkid": uid("net", 1),
                "associatednetworkname": "web-net",
                "zonename": "lab-zone",
            },
            {
                "id": uid("ip", 2),
                "ipaddress": "198.51.100.11",
                "state": "Allocated",
                "isstaticnat": True,
                "virtualmachinename": "web-1",
                "associatednetworkid": uid("net", 1),
                "associatednetworkname": "web-net",
                "zonename": "lab-zone",
            },
        ],
    ),
    "listAccounts": (
        "account",
        [
            {
                "id": uid("acct", 1),
                "name": "admin",
                "state": "enabled",
                "roletype": "Admin",
                "domain": "ROOT",
                "vmtotal": 6,
                "iptotal": 2,
                "volumetotal": 2,
            }
        ],
    ),
    "listServiceOfferings": (
        "serviceoffering",
        [
            {
                "id": uid("so", 1),
                "name": "Small Instance",
                "cpunumber": 1,
                "cpuspeed": 500,
                "memory": 512,
                "storagetype": "shared",
                "displaytext": "1 vCPU, 512 MB",
            },
            {
                "id": uid("so", 2),
                "name": "Medium Instance",
                "cpunumber": 2,
                "cpuspeed": 1000,
                "memory": 1024,
                "storagetype": "shared",
                "displaytext": "2 vCPU, 1 GB",
            },
        ],
    ),
    "listAsyncJobs": (
        "asyncjobs",
        [
            {
                "jobid": uid("job", 1),
                "cmd": "deployVirtualMachine",
                "jobstatus": 0,
                "jobprocstatus": 40,
                "jobinstancetype": "VirtualMachine",
                "created": T0,
            },
            {
                "jobid": uid("job", 2),
                "cmd": "stopVirtualMachine",
                "jobstatus": 1,
                "jobprocstatus": 100,
                "jobinstancetype": "VirtualMachine",
                "created": T0,
                "jobresultcode": 0,
            },
            {
                "jobid": uid("job", 3),
                "cmd": "startVirtualMachine",
                "jobstatus": 2,
                "jobprocstatus": 0,
                "jobinstancetype": "VirtualMachine",
                "jobinstanceid": uid("vm", 6),
                "jobresultcode": 533,
                "jobresult": {"errorcode": 533, "errortext": "Unable to create a deployment for VM batch-1"},
                "created": T0,
            },
        ],
    ),
    "listEvents": (
        "event",
        [
            {
                "id": uid("ev", i),
                "type": t,
                "level": lvl,
                "state": "Completed",
                "description": d,
                "account": "admin",
                "created": T0,
            }
            for i, (t, lvl, d) in enumerate(
                [
                    ("VM.CREATE", "INFO", "deployed web-1"),
                    ("VM.STOP", "INFO", "stopped db-1"),
                    ("VM.START", "ERROR", "batch-1: insufficient capacity"),
                ]
            )
        ],
    ),
    "listAlerts": (
        "alert",
        [
            {
                "id": uid("alert", 1),
                "name": "ALERT.HOST",
                "type": 7,
                "description": "sim-host-2 entered maintenance",
                "sent": T0,
            }
        ],
    ),
    "listCapacity": (
        "capacity",
        [
            {"zoneid": uid("zone", 1), "zonename": "lab-zone", "type": t, "capacityused": u, "capacitytotal": tot}
            for t, u, tot in [
                (1, 6000, 32000),
                (0, 3 * 2**30, 32 * 2**30),
                (2, 300 * 2**30, 2 * 2**40),
                (6, 80 * 2**30, 100 * 2**30),
                (4, 19, 20),
            ]
        ],
    ),
    "listCapabilities": ("capability", []),
    "listOsTypes": ("ostype", [{"id": uid("os", 1), "description": "Other Linux (64-bit)"}]),
    "listSSHKeyPairs": ("sshkeypair", [{"name": "lab-key", "fingerprint": "aa:bb:cc", "account": "admin"}]),
}
DATA["listLoadBalancerRuleInstances"] = ("loadbalancerruleinstance", DATA["listVirtualMachines"][1][:2])
IGNORED = {"command", "response", "listall", "page", "pagesize", "apiKey", "signature", "templatefilter", "isofilter"}


def matches(row: dict[str, Any], key: str, value: str) -> bool:
    """Whether a row passes one list filter (a VM's networkid is on its NICs; unknown filters pass)."""
    if key == "networkid" and "nic" in row:
        return any(n.get("networkid") == value for n in row["nic"])
    return key not in row or str(row[key]) == value


class DemoClient(VirgaClient):
    """Answers from DATA; commands not in it fail with 432 like an older server; actions succeed."""

    def __init__(self) -> None:
        """No network at all."""
        super().__init__("http://demo.invalid")
        self.calls: list[str] = []
        self.fail: dict[str, tuple[int, str]] = {}  # command -> the API error it answers with

    async def _send(self, params: dict[str, str], sign_it: bool = True) -> dict[str, Any]:
        """Answer one request from the fixed data."""
        cmd = params["command"]
        self.calls.append(cmd)
        self._last = {**params, "apiKey": "DEMOKEY", "signature": "DEMOSIG="}
        if cmd in self.fail:
            raise ApiError(*self.fail[cmd], cmd)
        if cmd == "queryAsyncJobResult":
            return {"jobid": params["jobid"], "jobstatus": 1, "jobresult": {"success": True}}
        if cmd in DATA:
            item, rows = DATA[cmd]
            if cmd == "listLoadBalancerRuleInstances":
                params = {k: v for k, v in params.items() if k != "id"}
            for key, value in params.items():
                if key not in IGNORED:
                    rows = [r for r in rows if matches(r, key, value)]
            return {"count": len(rows), item: rows[: int(params.get("pagesize", 0)) or None]} if rows else {}
        if cmd.startswith("list"):
            raise ApiError(432, "The given command does not exist or it is not available for the user", cmd)
        return {"jobid": uid("job", 99), "id": uid("new", 1)}
