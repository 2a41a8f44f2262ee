"""First-run data: the ROOT domain, roles, the admin account, settings, OS types and offerings."""

from __future__ import annotations

from typing import NamedTuple

from sqlmodel import Session, select
from virga.models import (
    Account,
    Configuration,
    DiskOffering,
    Domain,
    NetworkOffering,
    OsCategory,
    OsType,
    Role,
    ServiceOffering,
    User,
)

NOT_IN_VIRGA = " (virga does not implement this: the setting is listed for CloudStack's tools, its value has no effect)"


class Setting(NamedTuple):
    """One of CloudStack's global settings as virga seeds it: name, default, category, description, scope, dynamic."""

    name: str
    default: str
    category: str
    description: str
    scope: str = "global"
    dynamic: bool = False


def _absent(name: str, default: str, description: str, dynamic: bool = False, scope: str = "global") -> Setting:
    """A CloudStack setting of a feature virga lacks: listed, settable, and saying it has no effect."""
    return Setting(name, default, "Advanced", description + NOT_IN_VIRGA, scope, dynamic)


# CloudStack's names, defaults, categories, descriptions, scopes and isdynamic (upstream 3d6cafe193).
SETTINGS = [
    Setting(
        "cpu.overprovisioning.factor",
        "1.0",
        "Advanced",
        "Used for CPU overprovisioning calculation; available CPU will be (actualCpuCapacity * "
        "cpu.overprovisioning.factor)",
        "cluster",
        True,
    ),
    Setting(
        "mem.overprovisioning.factor",
        "1.0",
        "Advanced",
        "Used for memory overprovisioning calculation",
        "cluster",
        True,
    ),
    Setting(
        "storage.overprovisioning.factor",
        "2",
        "Storage",
        "Used for storage overprovisioning calculation; available storage will be (actualStorageSize * "
        "storage.overprovisioning.factor)" + NOT_IN_VIRGA,
        "storagepool",
        True,
    ),
    Setting("default.page.size", "500", "Advanced", "Default page size for API list* commands"),
    Setting(
        "ping.interval",
        "60",
        "Advanced",
        "Interval in seconds to send application level pings to make sure the connection is still working",
    ),
    Setting(
        "ping.timeout",
        "2.5",
        "Advanced",
        "Multiplier to ping.interval before announcing an agent has timed out",
        dynamic=True,
    ),
    Setting(
        "vm.instancename.flag",
        "false",
        "Advanced",
        "If set to true, will set guest VM's name as it appears on the hypervisor, to its hostname. The flag is "
        "supported for VMware hypervisor only" + NOT_IN_VIRGA,
    ),
    Setting(
        "guest.domain.suffix",
        "cloud.internal",
        "Network",
        "Default domain name for vms inside virtualized networks fronted by router (virga: the domain of a zone "
        "created without one)",
        "zone",
        True,
    ),
    Setting("session.timeout", "30", "Advanced", "Minutes without a call after which a login session ends"),
    Setting(
        "incorrect.login.attempts.allowed",
        "5",
        "Advanced",
        "Incorrect login attempts allowed before the user is disabled (when value > 0). If value <=0 users are not "
        "disabled after failed login attempts",
    ),
    Setting("api.throttling.enabled", "false", "Advanced", "Enable/disable Api rate limit"),
    Setting("api.throttling.interval", "1", "Advanced", "Time interval (in seconds) to reset API count"),
    Setting("api.throttling.max", "25", "Advanced", "Max allowed number of APIs within fixed interval"),
    _absent("network.gc.wait", "600", "Time (in seconds) to wait before shutting down a network that's not in used"),
    _absent("network.gc.interval", "600", "Seconds to wait before checking for networks to shutdown", True),
    _absent(
        "storage.cleanup.interval",
        "86400",
        "The interval (in seconds) to wait before running the storage cleanup thread.",
    ),
    _absent(
        "vm.op.wait.interval",
        "120",
        "Time (in seconds) to wait before checking if a previous operation has succeeded",
        True,
    ),
    _absent("instance.name", "VM", "Name of the deployment instance."),
    _absent("workers", "5", "Number of worker threads handling remote agent connections."),
    _absent("account.cleanup.interval", "86400", "The interval (in seconds) between cleanup for removed accounts"),
    _absent(
        "expunge.delay",
        "86400",
        "Determines how long (in seconds) to wait before actually expunging destroyed vm. The default value = the "
        "default value of expunge.interval",
    ),
    _absent("expunge.interval", "86400", "The interval (in seconds) to wait before running the expunge thread."),
    _absent("expunge.workers", "1", "Number of workers performing expunge "),
    _absent(
        "vm.allocation.algorithm",
        "random",
        "Order in which hosts within a cluster will be considered for VM allocation. The value can be 'random', "
        "'firstfit', 'userdispersing', 'userconcentratedpod_random', 'userconcentratedpod_firstfit', or "
        "'firstfitleastconsumed'.",
        True,
    ),
    _absent("check.pod.cidrs", "true", "If true, different pods must belong to different CIDR subnets."),
    _absent(
        "secstorage.allowed.internal.sites",
        "",
        "Comma separated list of cidrs internal to the datacenter that can host template download servers, please "
        "note 0.0.0.0 is not a valid site",
    ),
    _absent("direct.agent.load.size", "16", "The number of direct agents to load each time"),
    _absent("enable.dynamic.scale.vm", "false", "Enables/Disables dynamically scaling a vm", True, "zone"),
]
BY_NAME = {c.name: c for c in SETTINGS}

OS_TYPES = {
    "Debian": ["Debian GNU/Linux 12 (64-bit)", "Debian GNU/Linux 11 (64-bit)"],
    "Ubuntu": ["Ubuntu 22.04 LTS", "Ubuntu 24.04 LTS"],
    "CentOS": ["CentOS 7 (64-bit)", "Rocky Linux 9"],
    "Windows": ["Windows Server 2022 (64-bit)"],
    "Other": ["Other Linux (64-bit)", "Other (64-bit)"],
}

VR = "VirtualRouter"
ISOLATED_SERVICES = {
    s: VR for s in ["Dhcp", "Dns", "UserData", "SourceNat", "StaticNat", "PortForwarding", "Lb", "Firewall"]
}
SHARED_SG_SERVICES = {"Dhcp": VR, "Dns": VR, "UserData": VR, "SecurityGroup": "SecurityGroupProvider"}


def ensure_defaults(s: Session) -> None:
    """Create whatever of the defaults is missing (idempotent)."""
    if s.exec(select(Domain).where(Domain.path == "/")).first() is None:
        _accounts(s)
    for c in SETTINGS:
        if s.get(Configuration, c.name) is None:
            s.add(
                Configuration(
                    name=c.name, value=c.default, defaultvalue=c.default, category=c.category, description=c.description
                )
            )
    if s.exec(select(OsCategory)).first() is None:
        _os_types(s)
    if s.exec(select(ServiceOffering)).first() is None:
        _offerings(s)
    s.commit()


def _accounts(s: Session) -> None:
    """The ROOT domain, the four roles and the admin and system accounts."""
    root = Domain(name="ROOT", path="/", level=0)
    s.add(root)
    roles = {
        t: Role(name=n, type=t, is_default=True, description=n)
        for t, n in [
            ("Admin", "Root Admin"),
            ("ResourceAdmin", "Resource Admin"),
            ("DomainAdmin", "Domain Admin"),
            ("User", "User"),
        ]
    }
    s.add_all(roles.values())
    s.flush()
    system = Account(name="system", domain_id=root.id or 0, accounttype=1, role_id=roles["Admin"].id or 0)
    admin = Account(name="admin", domain_id=root.id or 0, accounttype=1, role_id=roles["Admin"].id or 0)
    s.add_all([system, admin])
    s.flush()
    s.add(User(username="system", account_id=system.id or 0, state="disabled"))
    s.add(User(username="admin", account_id=admin.id or 0, firstname="Admin", lastname="User"))


def _os_types(s: Session) -> None:
    """Guest OS categories and types."""
    for cat, types in OS_TYPES.items():
        c = OsCategory(name=cat)
        s.add(c)
        s.flush()
        for desc in types:
            s.add(OsType(description=desc, oscategory_id=c.id or 0))


def _offerings(s: Session) -> None:
    """Default service, disk and network offerings."""
    s.add_all(
        [
            ServiceOffering(name="Tiny Instance", displaytext="1 vCPU, 128 MB", cpunumber=1, cpuspeed=100, memory=128),
            ServiceOffering(name="Small Instance", displaytext="1 vCPU, 512 MB", cpunumber=1, cpuspeed=500, memory=512),
            ServiceOffering(
                name="Medium Instance", displaytext="1 vCPU, 1 GB", cpunumber=1, cpuspeed=1000, memory=1024
            ),
            ServiceOffering(name="Custom Instance", displaytext="Choose CPU and memory", iscustomized=True),
            DiskOffering(name="Small", displaytext="5 GB", disksize=5),
            DiskOffering(name="Medium", displaytext="20 GB", disksize=20),
            DiskOffering(name="Large", displaytext="100 GB", disksize=100),
            DiskOffering(name="Custom", displaytext="Choose the size", iscustomized=True),
            NetworkOffering(
                name="DefaultIsolatedNetworkOfferingWithSourceNatService",
                displaytext="Isolated network with source NAT, firewall, port forwarding and LB",
                guestiptype="Isolated",
                services=ISOLATED_SERVICES,
                state="Enabled",
                isdefault=True,
                availability="Required",
                egressdefaultpolicy=True,
            ),
            NetworkOffering(
                name="DefaultIsolatedNetworkOfferingEgressDeny",
                displaytext="Isolated network whose egress is denied unless allowed",
                guestiptype="Isolated",
                services=ISOLATED_SERVICES,
                state="Enabled",
                egressdefaultpolicy=False,
            ),
            NetworkOffering(
                name="DefaultSharedNetworkOfferingWithSGService",
                displaytext="Shared network with security groups",
                guestiptype="Shared",
                services=SHARED_SG_SERVICES,
                specifyvlan=True,
                specifyipranges=True,
                state="Enabled",
                isdefault=True,
            ),
            NetworkOffering(
                name="DefaultSharedNetworkOffering",
                displaytext="Shared network",
                guestiptype="Shared",
                services={"Dhcp": VR, "Dns": VR, "UserData": VR},
                specifyvlan=True,
                specifyipranges=True,
                state="Enabled",
                isdefault=True,
            ),
        ]
    )


def setting(s: Session, name: str, default: str = "") -> str:
    """The value of a global setting."""
    row = s.get(Configuration, name)
    return row.value if row is not None else default
