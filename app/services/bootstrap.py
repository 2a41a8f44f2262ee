"""First-run data: the ROOT domain, roles, the admin account, settings, OS types and offerings."""

from __future__ import annotations

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

SETTINGS = [
    ("cpu.overprovisioning.factor", "1.0", "Capacity", "CPU overprovisioning factor for placement"),
    ("mem.overprovisioning.factor", "1.0", "Capacity", "Memory overprovisioning factor for placement"),
    ("storage.overprovisioning.factor", "2.0", "Storage", "Primary storage overprovisioning factor"),
    ("default.page.size", "500", "Advanced", "Default page size of list commands"),
    ("expunge.delay", "86400", "Advanced", "Seconds a destroyed VM waits before automatic expunge"),
    ("ping.interval", "30", "Advanced", "Seconds between host pings"),
    ("ping.timeout", "2.5", "Advanced", "Multiplier of ping.interval after which a silent host is Down"),
    ("vm.instancename.flag", "false", "Advanced", "Use the VM name as hypervisor instance name"),
    ("guest.domain.suffix", "cloud.internal", "Network", "Default network domain of guest networks"),
    ("session.timeout", "30", "Advanced", "Minutes without a call after which a login session ends"),
    ("incorrect.login.attempts.allowed", "5", "Advanced", "Wrong passwords in a row after which a user is locked"),
    ("api.throttling.enabled", "false", "Advanced", "Limit the API calls an account makes per interval"),
    ("api.throttling.interval", "1", "Advanced", "Time interval (in seconds) to reset API count"),
    ("api.throttling.max", "25", "Advanced", "Max allowed number of APIs within fixed interval"),
]

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
    for name, value, category, desc in SETTINGS:
        if s.get(Configuration, name) is None:
            s.add(Configuration(name=name, value=value, defaultvalue=value, category=category, description=desc))
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
