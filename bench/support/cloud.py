"""A simulator cloud written straight into the database: the API benchmark's seed and the tests' factories.

(API commands are tested on their own; these make the data they start from.)
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import select
from virga.api.auth import hash_password, new_keys
from virga.client import Credentials
from virga.core import VirgaApp
from virga.models import (
    Account,
    Cluster,
    Domain,
    Host,
    ImageStore,
    Network,
    NetworkOffering,
    PhysicalNetwork,
    Pod,
    PublicIpAddress,
    Role,
    StoragePool,
    Template,
    User,
    VlanIpRange,
    Zone,
)
from virga.services.ipam import int_to_ip, ip_to_int


@dataclass
class Cloud:
    """Ids of the simulator zone's parts."""

    zone: str
    pod: str
    cluster: str
    hosts: list[str]
    pool: str
    template: str
    offering: str = ""


def make_user(
    app: VirgaApp,
    username: str,
    account: str | None = None,
    accounttype: int = 0,
    domain_path: str = "/",
    password: str = "password",
) -> Credentials:
    """Create (or find) a user with API keys; accounttype 1 admin, 2 domain admin, 0 user."""
    with app.db.session() as s:
        user = s.exec(select(User).where(User.username == username)).first()
        if user is None:
            dom = s.exec(select(Domain).where(Domain.path == domain_path)).one()
            role_type = {0: "User", 1: "Admin", 2: "DomainAdmin"}[accounttype]
            role = s.exec(select(Role).where(Role.type == role_type)).one()
            acct = Account(
                name=account or username, domain_id=dom.id or 0, accounttype=accounttype, role_id=role.id or 0
            )
            s.add(acct)
            s.flush()
            user = User(username=username, account_id=acct.id or 0)
        user.password_hash = hash_password(password)
        if not user.apikey:
            user.apikey, user.secretkey = new_keys()
        s.add(user)
        s.commit()
        return Credentials(
            apikey=user.apikey or "", secretkey=user.secretkey or "", username=username, password=password
        )


def build_sim_cloud(app: VirgaApp, hosts: int = 2, public_ips: int = 20) -> Cloud:
    """Create an enabled simulator zone with hosts, storage, public IPs and a ready template."""
    with app.db.session() as s:
        zone = Zone(name="sim-zone", dns1="10.0.0.2", internaldns1="10.0.0.2", allocationstate="Enabled")
        s.add(zone)
        s.flush()
        pod = Pod(name="pod-1", zone_id=zone.id or 0, gateway="172.16.0.1", netmask="255.255.255.0")
        s.add(pod)
        s.flush()
        cl = Cluster(name="cluster-1", zone_id=zone.id or 0, pod_id=pod.id or 0, hypervisor="Simulator")
        s.add(cl)
        s.flush()
        host_ids = []
        for i in range(hosts):
            h = Host(
                name=f"sim-host-{i}",
                zone_id=zone.id or 0,
                pod_id=pod.id or 0,
                cluster_id=cl.id or 0,
                url=f"simulator://sim-host-{zone.id}-{i}",
                state="Up",
                cpunumber=8,
                cpuspeed=2000,
                memorytotal=16 * 2**30,
                hypervisor="Simulator",
            )
            s.add(h)
            s.flush()
            host_ids.append(h.uuid)
        pool = StoragePool(
            name="pool-1",
            zone_id=zone.id or 0,
            pod_id=pod.id,
            cluster_id=cl.id,
            type="Simulator",
            url="simulator://pool-1",
            path="/sim/pool-1",
            capacitybytes=2 * 2**40,
        )
        s.add(pool)
        s.add(ImageStore(name="store-1", zone_id=zone.id, url="nfs://127.0.0.1/export/secondary"))
        pn = PhysicalNetwork(name="physnet-1", zone_id=zone.id or 0, state="Enabled")
        s.add(pn)
        s.flush()
        vlan = VlanIpRange(
            zone_id=zone.id or 0,
            physicalnetwork_id=pn.id,
            gateway="198.51.100.1",
            netmask="255.255.255.0",
            startip="198.51.100.10",
            endip=int_to_ip(ip_to_int("198.51.100.10") + public_ips - 1),
        )
        vlan.start_int, vlan.end_int = ip_to_int(vlan.startip), ip_to_int(vlan.endip)
        s.add(vlan)
        s.flush()
        for value in range(vlan.start_int, vlan.end_int + 1):
            s.add(PublicIpAddress(ipaddress=int_to_ip(value), ip_int=value, vlan_id=vlan.id or 0, zone_id=zone.id or 0))
        admin = s.exec(select(Account).where(Account.name == "admin")).one()
        tmpl = Template(
            name="tiny-sim",
            displaytext="Tiny simulated guest",
            hypervisor="Simulator",
            url="simulator://tiny.qcow2",
            isready=True,
            status="Download Complete",
            size=2 * 2**30,
            ispublic=True,
            isfeatured=True,
            account_id=admin.id or 0,
            domain_id=admin.domain_id,
            templatetype="BUILTIN",
        )
        s.add(tmpl)
        s.commit()
        return Cloud(zone=zone.uuid, pod=pod.uuid, cluster=cl.uuid, hosts=host_ids, pool=pool.uuid, template=tmpl.uuid)


def make_network(app: VirgaApp, zone_uuid: str, account_name: str, cidr: str = "10.1.1.0/24", name: str = "net") -> str:
    """Create an isolated network for an account straight in the database."""
    with app.db.session() as s:
        zone = s.exec(select(Zone).where(Zone.uuid == zone_uuid)).one()
        acct = s.exec(select(Account).where(Account.name == account_name)).one()
        off = s.exec(
            select(NetworkOffering).where(NetworkOffering.name == "DefaultIsolatedNetworkOfferingWithSourceNatService")
        ).one()
        base = cidr.split("/")[0].rsplit(".", 1)[0]
        net = Network(
            name=name,
            zone_id=zone.id or 0,
            networkoffering_id=off.id or 0,
            cidr=cidr,
            gateway=f"{base}.1",
            netmask="255.255.255.0",
            account_id=acct.id or 0,
            domain_id=acct.domain_id,
            networkdomain="cloud.internal",
        )
        s.add(net)
        s.commit()
        return net.uuid
