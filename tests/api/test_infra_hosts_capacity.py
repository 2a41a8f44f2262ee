"""Host maintenance with live migration, reconnect, listCapacity, settings and configureSimulator."""

from __future__ import annotations

import pytest
from sqlmodel import select
from virga.client import ApiError, VirgaClient
from virga.core import VirgaApp
from virga.drivers.simulator.world import WORLD
from virga.models import Event

from tests.conftest import client_for
from tests.factories import Cloud, make_network, make_user


async def _err(coro: object) -> ApiError:
    """Await a call expected to fail and return its error."""
    with pytest.raises(ApiError) as err:
        await coro  # type: ignore[misc]
    return err.value


async def _deploy_two(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> tuple[list[dict], dict]:
    """Deploy two Small VMs on the first host."""
    net = make_network(app, cloud.zone, "admin")
    small = (await admin.list("listServiceOfferings", "serviceoffering", name="Small Instance"))[0]
    vms = [
        (
            await admin.run(
                "deployVirtualMachine",
                zoneid=cloud.zone,
                templateid=cloud.template,
                serviceofferingid=small["id"],
                networkids=net,
                hostid=cloud.hosts[0],
                name=f"vm-{i}",
            )
        )["virtualmachine"]
        for i in range(2)
    ]
    return vms, small


async def test_maintenance_migrates_vms(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    vms, _ = await _deploy_two(app, admin, cloud)
    on_first = [v for v in vms if v["hostid"] == cloud.hosts[0]]
    assert on_first
    host = (await admin.run("prepareHostForMaintenance", id=cloud.hosts[0]))["host"]
    assert host["resourcestate"] == "Maintenance"
    for v in await admin.list("listVirtualMachines", "virtualmachine", listall=True):
        assert v["state"] == "Running" and v["hostid"] == cloud.hosts[1]
        assert WORLD.guests[v["id"]]["host"].endswith("-1")
    (h0,) = await admin.list("listHosts", "host", id=cloud.hosts[0])
    assert h0["cpuallocatedvalue"] == 0 and h0["memoryallocated"] == 0
    with app.db.session() as s:
        types = {e.type for e in s.exec(select(Event))}
    assert {"VM.MIGRATE", "MAINT.PREPARE"} <= types
    host = (await admin.run("cancelHostMaintenance", id=cloud.hosts[0]))["host"]
    assert host["resourcestate"] == "Enabled"


async def test_maintenance_stops_vms_that_cannot_move(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    vms, _ = await _deploy_two(app, admin, cloud)
    await admin.call("configureSimulator", name="MigrateCommand", value="fail:no shared storage")
    host = (await admin.run("prepareHostForMaintenance", id=cloud.hosts[0]))["host"]
    assert host["resourcestate"] == "Maintenance"
    states = {v["name"]: v for v in await admin.list("listVirtualMachines", "virtualmachine", listall=True)}
    moved = [v for v in vms if v["hostid"] == cloud.hosts[0]]
    assert all(states[v["name"]]["state"] == "Stopped" for v in moved)
    await admin.call("cleanupSimulatorMocks")
    await admin.run("cancelHostMaintenance", id=cloud.hosts[0])


async def test_maintenance_error_when_vm_neither_moves_nor_stops(
    app: VirgaApp, admin: VirgaClient, cloud: Cloud
) -> None:
    await _deploy_two(app, admin, cloud)
    await admin.call("configureSimulator", name="migrate_instance", value="fail")
    await admin.call("configureSimulator", name="StopCommand", value="fail:stuck", hostid=cloud.hosts[0])
    host = (await admin.run("prepareHostForMaintenance", id=cloud.hosts[0]))["host"]
    assert host["resourcestate"] == "ErrorInMaintenance"
    await admin.call("cleanupSimulatorMocks")
    host = (await admin.run("prepareHostForMaintenance", id=cloud.hosts[0]))["host"]
    assert host["resourcestate"] == "Maintenance"


async def test_reconnect(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    host = (await admin.run("reconnectHost", id=cloud.hosts[1]))["host"]
    assert host["state"] == "Up" and host["cpunumber"] == 32
    await admin.call("configureSimulator", name="*", value="down", hostid=cloud.hosts[1])
    err = await _err(admin.run("reconnectHost", id=cloud.hosts[1]))
    assert err.code == 534
    (host,) = await admin.list("listHosts", "host", id=cloud.hosts[1])
    assert host["state"] == "Disconnected"
    await admin.call("configureSimulator", name="*", value="up", hostid=cloud.hosts[1])
    assert (await admin.run("reconnectHost", id=cloud.hosts[1]))["host"]["state"] == "Up"


async def test_list_capacity_matches_vms(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    _, small = await _deploy_two(app, admin, cloud)
    caps = {c["type"]: c for c in await admin.list("listCapacity", "capacity", zoneid=cloud.zone)}
    assert caps[1]["capacitytotal"] == 2 * 8 * 2000 and caps[1]["capacityused"] == 2 * small["cpuspeed"]
    assert caps[0]["capacitytotal"] == 2 * 16 * 2**30 and caps[0]["capacityused"] == 2 * small["memory"] * 2**20
    assert caps[0]["zoneid"] == cloud.zone and caps[0]["percentused"] == "3.12"
    assert caps[4]["capacitytotal"] == 20
    assert caps[3]["capacityused"] >= 2 * 2 * 2**30
    by_cluster = await admin.list("listCapacity", "capacity", clusterid=cloud.cluster, type=1)
    assert len(by_cluster) == 1 and by_cluster[0]["clusterid"] == cloud.cluster
    assert by_cluster[0]["capacityused"] == 2 * small["cpuspeed"]
    await admin.call("updateConfiguration", name="cpu.overprovisioning.factor", value="2")
    (cpu,) = await admin.list("listCapacity", "capacity", zoneid=cloud.zone, type=1)
    assert cpu["capacitytotal"] == 2 * 2 * 8 * 2000
    sorted_caps = await admin.list("listCapacity", "capacity", sortby="usage")
    pcts = [float(c["percentused"]) for c in sorted_caps]
    assert pcts == sorted(pcts, reverse=True)
    assert (await _err(admin.call("listCapacity", type=42))).code == 431


async def test_configurations(admin: VirgaClient) -> None:
    confs = await admin.list("listConfigurations", "configuration", category="Advanced")
    assert {c["name"] for c in confs} >= {"cpu.overprovisioning.factor", "mem.overprovisioning.factor"}
    assert await admin.list("listConfigurations", "configuration", keyword="expunge")
    c = (await admin.call("updateConfiguration", name="expunge.delay", value="60"))["configuration"]
    assert c["value"] == "60" and c["type"] == "Number"
    for name, value, word in (
        ("expunge.delay", "soon", "number"),
        ("vm.instancename.flag", "maybe", "true"),
        ("no.such.setting", "1", "name"),
        ("cpu.overprovisioning.factor", "0", "greater"),
    ):
        err = await _err(admin.call("updateConfiguration", name=name, value=value))
        assert err.code == 431 and word in err.text
    (c,) = await admin.list("listConfigurations", "configuration", name="expunge.delay")
    assert c["value"] == "60"
    c = (await admin.call("updateConfiguration", name="expunge.delay"))["configuration"]
    assert c["value"] == c["defaultvalue"]


async def test_configure_simulator_slows_and_fails(app: VirgaApp, admin: VirgaClient, cloud: Cloud) -> None:
    net = make_network(app, cloud.zone, "admin")
    small = (await admin.list("listServiceOfferings", "serviceoffering", name="Small Instance"))[0]
    mock = (
        await admin.call("configureSimulator", name="StartCommand", value="fail:injected", count=1, zoneid=cloud.zone)
    )["mockconfig"]
    assert mock["operation"] == "start_instance" and len(mock["hosts"]) == 2
    err = await _err(
        admin.run(
            "deployVirtualMachine",
            zoneid=cloud.zone,
            templateid=cloud.template,
            serviceofferingid=small["id"],
            networkids=net,
        )
    )
    assert err.code == 530 and "injected" in err.text
    for name, value, word in (
        ("teleport", "fail", "name"),
        ("start_instance", "explode", "value"),
        ("start_instance", "wait:x", "value"),
    ):
        err = await _err(admin.call("configureSimulator", name=name, value=value))
        assert err.code == 431 and word in err.text
    await admin.call("cleanupSimulatorMocks")
    assert not WORLD.rules and not WORLD.down_hosts
    user = await client_for(app, make_user(app, "simuser"))
    try:
        for cmd, params in (
            ("configureSimulator", {"name": "*", "value": "down"}),
            ("cleanupSimulatorMocks", {}),
            ("listCapacity", {}),
            ("listConfigurations", {}),
            ("prepareHostForMaintenance", {"id": cloud.hosts[0]}),
        ):
            assert (await _err(user.call(cmd, **params))).code == 432
    finally:
        await user.close()
