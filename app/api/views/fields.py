"""Documented response fields per response object, for listApis (and checked against the views by tests)."""

from __future__ import annotations

from typing import Any

_COMMON_OWNER = "account domainid domain domainpath"
FIELDS: dict[str, str] = {
    "virtualmachine": "id name displayname state zoneid zonename hostid hostname hypervisor templateid templatename "
    "templatedisplaytext passwordenabled haenable serviceofferingid serviceofferingname cpunumber cpuspeed memory "
    "instancename group keypair displayvm isdynamicallyscalable nic securitygroup tags affinitygroup details "
    "publicip isoid isoname osdisplayname created lastupdated jobid jobstatus " + _COMMON_OWNER,
    "zone": "id name description networktype dns1 dns2 internaldns1 internaldns2 guestcidraddress domain "
    "allocationstate securitygroupsenabled localstorageenabled zonetoken dhcpprovider tags hasannotations",
    "pod": "id name zoneid zonename gateway netmask startip endip allocationstate ipranges",
    "cluster": "id name zoneid zonename podid podname hypervisortype clustertype allocationstate managedstate "
    "cpuovercommitratio memoryovercommitratio",
    "host": "id name state resourcestate type ipaddress zoneid zonename podid podname clusterid clustername "
    "clustertype hypervisor hypervisorversion cpunumber cpuspeed cpusockets cpuallocated cpuallocatedvalue "
    "cpuallocatedpercentage cpuwithoverprovisioning memorytotal memorywithoverprovisioning memoryallocated "
    "memoryallocatedpercentage hosttags capabilities created lastpinged disconnected version cpumodel accelerator "
    "islocalstorageactive haenable",
    "asyncjobs": "jobid accountid account userid cmd jobstatus jobprocstatus jobresultcode jobresulttype jobresult "
    "jobinstancetype jobinstanceid created completed",
    "login": "username userid domainid account type firstname lastname timeout sessionkey registered",
    "success": "success displaytext",
}


def response_fields(name: str) -> list[dict[str, Any]]:
    """The documented fields of a response object, as listApis reports them."""
    return [
        {"name": f, "description": f"the {f} of the {name}", "type": "string"} for f in FIELDS.get(name, "").split()
    ]
