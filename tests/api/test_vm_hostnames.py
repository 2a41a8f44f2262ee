"""deployVirtualMachine refuses a host name already used on the same guest network (as CloudStack does)."""

from __future__ import annotations

from sqlmodel import select
from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.models import VirtualMachine

from tests.api.netutil import fails, network, vm
from tests.factories import Cloud


async def test_duplicate_hostname_in_a_network_is_refused(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    net1 = await network(admin, app, cloud, "hn1")
    net2 = await network(admin, app, cloud, "hn2", gateway="10.1.2.1", netmask="255.255.255.0")
    first = await vm(admin, app, cloud, net1["id"], "web")
    await fails(431, vm(admin, app, cloud, net1["id"], "web"), "host name web")
    await fails(431, vm(admin, app, cloud, f"{net2['id']},{net1['id']}", "web"), "hn1")
    with app.db.session() as s:  # a refused deploy writes nothing
        assert len(s.exec(select(VirtualMachine).where(VirtualMachine.name == "web")).all()) == 1
    other = await vm(admin, app, cloud, net2["id"], "web")  # another network: allowed
    assert other["nic"][0]["networkid"] == net2["id"]
    await admin.run("destroyVirtualMachine", id=first["id"], expunge=True)
    again = await vm(admin, app, cloud, net1["id"], "web")  # an expunged VM frees its name
    assert again["name"] == "web"
