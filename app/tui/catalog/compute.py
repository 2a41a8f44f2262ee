"""Catalog entries for compute: instances, volumes, snapshots, templates, ISOs, SSH keys."""

from __future__ import annotations

from typing import Any

from virga.tui import fmt, validate
from virga.tui.catalog.base import (
    Action,
    Choice,
    DefaultFrom,
    Field,
    Resource,
    age_col,
    col,
    delete,
    id_only,
    nothing,
    register,
    size_col,
    state_col,
)
from virga.tui.widgets.resource_table import Column

TEMPLATES = Choice("listTemplates", "template", params={"templatefilter": "executable"})
OFFERINGS = Choice("listServiceOfferings", "serviceoffering")
ZONES = Choice("listZones", "zone")
NETWORKS = Choice("listNetworks", "network", params={"listall": True})
KEYPAIRS = Choice("listSSHKeyPairs", "sshkeypair", value="name")
HOSTS = Choice("listHosts", "host", params={"type": "Routing"})
DISK_OFFERINGS = Choice("listDiskOfferings", "diskoffering")
OS_TYPES = Choice("listOsTypes", "ostype", label="description")


def vm_columns(clock: fmt.Clock) -> list[Column]:
    """Columns of the instances table."""
    return [
        col("name", "NAME", 18),
        state_col(),
        Column("IP", 15, lambda i: (fmt.first_ip(i), "cyan")),
        col("hostname", "HOST", 14),
        col("serviceofferingname", "OFFERING", 16),
        col("templatename", "TEMPLATE", 14),
        col("zonename", "ZONE", 10),
        age_col(clock),
    ]


def vm_snapshot_args(item: dict[str, Any]) -> dict[str, Any]:
    """createVMSnapshot's argument: the VM."""
    return {"virtualmachineid": item["id"]}


DEPLOY_FIELDS = (
    Field("zoneid", "Zone", required=True, choice=ZONES),
    Field(
        "templateid",
        "Template",
        required=True,
        choice=Choice("listTemplates", "template", params={"templatefilter": "executable"}, where={"zoneid": "zoneid"}),
    ),
    Field("serviceofferingid", "Offering", required=True, choice=OFFERINGS),
    Field(
        "networkids",
        "Network",
        choice=Choice("listNetworks", "network", params={"listall": True}, where={"zoneid": "zoneid"}),
    ),
    Field("keypair", "SSH key", choice=KEYPAIRS),
    Field("name", "Name (count>1 adds -N)", placeholder="web"),
    Field("count", "Count", default="1", validate=validate.integer),
)

VM_ACTIONS = (
    Action("n", "Deploy", "deployVirtualMachine", nothing, DEPLOY_FIELDS, needs_item=False),
    Action("s", "Start", "startVirtualMachine", id_only, confirm=True),
    Action("S", "Stop", "stopVirtualMachine", id_only, confirm=True),
    Action("r", "Reboot", "rebootVirtualMachine", id_only, confirm=True),
    Action("d", "Destroy", "destroyVirtualMachine", id_only, confirm=True),
    Action("R", "Recover", "recoverVirtualMachine", id_only, confirm=True),
    Action("x", "Expunge", "expungeVirtualMachine", id_only, confirm=True),
    Action(
        "c",
        "Scale",
        "scaleVirtualMachine",
        id_only,
        (Field("serviceofferingid", "New offering", required=True, choice=OFFERINGS),),
    ),
    Action(
        "m",
        "Migrate",
        "migrateVirtualMachine",
        lambda i: {"virtualmachineid": i["id"]},
        (Field("hostid", "Target host", required=True, choice=HOSTS),),
    ),
    Action(
        "p",
        "Snapshot",
        "createVMSnapshot",
        vm_snapshot_args,
        (Field("name", "Snapshot name"), Field("description", "Description")),
    ),
    Action("a", "Console", "createConsoleEndpoint", lambda i: {"virtualmachineid": i["id"]}),
)

register(
    Resource(
        "vm",
        "Instances",
        "listVirtualMachines",
        "virtualmachine",
        vm_columns,
        ("vms", "instance", "instances", "virtualmachine"),
        VM_ACTIONS,
    ),
    Resource(
        "vol",
        "Volumes",
        "listVolumes",
        "volume",
        lambda c: [
            col("name", "NAME", 20),
            state_col(),
            col("type", "TYPE", 8),
            size_col("size", "SIZE"),
            col("vmname", "VM", 16),
            col("storage", "STORAGE", 12),
            col("zonename", "ZONE", 10),
            age_col(c),
        ],
        ("volume", "volumes"),
        (
            Action(
                "n",
                "Create",
                "createVolume",
                nothing,
                (
                    Field("name", "Name", required=True, validate=validate.required),
                    Field("zoneid", "Zone", required=True, choice=ZONES),
                    Field("diskofferingid", "Disk offering", required=True, choice=DISK_OFFERINGS),
                ),
                needs_item=False,
            ),
            Action(
                "a",
                "Attach",
                "attachVolume",
                id_only,
                (
                    Field(
                        "virtualmachineid",
                        "VM",
                        required=True,
                        choice=Choice(
                            "listVirtualMachines",
                            "virtualmachine",
                            params={"listall": True},
                            where={"zoneid": "item.zoneid"},
                        ),
                    ),
                ),
            ),
            Action("D", "Detach", "detachVolume", id_only, confirm=True),
            Action("p", "Snapshot", "createSnapshot", lambda i: {"volumeid": i["id"]}),
            delete("deleteVolume"),
        ),
    ),
    Resource(
        "snap",
        "Snapshots",
        "listSnapshots",
        "snapshot",
        lambda c: [
            col("name", "NAME", 26),
            state_col(),
            col("volumename", "VOLUME", 18),
            col("intervaltype", "INTERVAL", 8),
            age_col(c),
        ],
        ("snapshot", "snapshots"),
        (
            Action(
                "v",
                "To volume",
                "createVolume",
                lambda i: {"snapshotid": i["id"]},
                (Field("name", "Volume name", required=True, validate=validate.required),),
            ),
            Action(
                "t",
                "To template",
                "createTemplate",
                lambda i: {"snapshotid": i["id"]},
                (
                    Field("name", "Template name", required=True, validate=validate.required),
                    Field("displaytext", "Display text", required=True, validate=validate.required),
                    Field("ostypeid", "OS type", required=True, choice=OS_TYPES),
                ),
            ),
            Action("R", "Revert", "revertSnapshot", id_only, confirm=True),
            delete("deleteSnapshot"),
        ),
    ),
    Resource(
        "vmsnap",
        "VM snapshots",
        "listVMSnapshots",
        "vmSnapshot",
        lambda c: [
            col("displayname", "NAME", 24),
            state_col(),
            col("virtualmachinename", "VM", 18),
            col("type", "TYPE", 14),
            age_col(c),
        ],
        ("vmsnapshot", "vmsnapshots"),
        (
            Action("R", "Revert", "revertToVMSnapshot", lambda i: {"vmsnapshotid": i["id"]}, confirm=True),
            Action("x", "Delete", "deleteVMSnapshot", lambda i: {"vmsnapshotid": i["id"]}, confirm=True),
        ),
    ),
    Resource(
        "tmpl",
        "Templates",
        "listTemplates",
        "template",
        lambda c: [
            col("name", "NAME", 22),
            Column("STATUS", 20, lambda i: fmt.state(i.get("status") or ("Ready" if i.get("isready") else ""))),
            col("hypervisor", "HYPERVISOR", 10),
            col("format", "FORMAT", 6),
            size_col("size", "SIZE"),
            col("zonename", "ZONE", 10),
            age_col(c),
        ],
        ("template", "templates"),
        (
            Action(
                "n",
                "Register",
                "registerTemplate",
                nothing,
                (
                    Field("name", "Name", required=True, validate=validate.required),
                    Field("displaytext", "Display text", required=True, validate=validate.required),
                    Field("url", "URL", required=True, validate=validate.url),
                    Field("zoneid", "Zone", required=True, choice=ZONES),
                    Field("format", "Format", default="QCOW2", options=("QCOW2", "RAW", "VHD", "OVA")),
                    Field(
                        "hypervisor",
                        "Hypervisor",
                        default="KVM",
                        options=("KVM", "Simulator", "XenServer", "VMware"),
                        default_from=DefaultFrom("zoneid", "listClusters", "cluster", "zoneid", "hypervisortype"),
                    ),
                    Field("ostypeid", "OS type", required=True, choice=OS_TYPES),
                ),
                needs_item=False,
            ),
            delete("deleteTemplate"),
        ),
        {"templatefilter": "all", "listall": True},
    ),
    Resource(
        "iso",
        "ISOs",
        "listIsos",
        "iso",
        lambda c: [
            col("name", "NAME", 22),
            Column("STATUS", 20, lambda i: fmt.state(i.get("status"))),
            col("bootable", "BOOTABLE", 8),
            size_col("size", "SIZE"),
            col("zonename", "ZONE", 10),
            age_col(c),
        ],
        ("isos",),
        (
            Action(
                "n",
                "Register",
                "registerIso",
                nothing,
                (
                    Field("name", "Name", required=True, validate=validate.required),
                    Field("displaytext", "Display text", required=True, validate=validate.required),
                    Field("url", "URL", required=True, validate=validate.url),
                    Field("zoneid", "Zone", required=True, choice=ZONES),
                ),
                needs_item=False,
            ),
            delete("deleteIso"),
        ),
        {"isofilter": "all", "listall": True},
    ),
    Resource(
        "ssh",
        "SSH key pairs",
        "listSSHKeyPairs",
        "sshkeypair",
        lambda c: [col("name", "NAME", 20), col("fingerprint", "FINGERPRINT", 50), col("account", "ACCOUNT", 12)],
        ("key", "keys", "sshkey", "keypair"),
        (
            Action(
                "n",
                "Register",
                "registerSSHKeyPair",
                nothing,
                (
                    Field("name", "Name", required=True, validate=validate.required),
                    Field("publickey", "Public key", required=True, validate=validate.required),
                ),
                needs_item=False,
            ),
            Action("x", "Delete", "deleteSSHKeyPair", lambda i: {"name": i["name"]}, confirm=True),
        ),
        key="name",
    ),
)
