"""Wizard paths beyond the sandbox: XenServer pool (fake XAPI), remote KVM hosts; the console action."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from textual.widgets import Input, Label, Select, Static
from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.tui.screens.instances import InstancesBase
from virga.tui.widgets.field_form import FieldForm
from virga.tui.wizard_steps import KINDS, kind_options, steps_for

from tests.factories import Cloud, make_network
from tests.fakes.xapi import FakeXapi
from tests.storage.conftest import NfsFixture, nfs  # noqa: F401  (a real NFS server for secondary storage)
from tests.tui.conftest import tui, until
from tests.tui.test_wizard import page, run_step


@pytest.fixture
def fake() -> Iterator[FakeXapi]:
    """A seeded fake XenServer pool master on 127.0.0.1."""
    with FakeXapi() as server:
        yield server


def test_kinds_offered_and_their_steps() -> None:
    assert "kvm" in kind_options(True, libvirt=True)
    assert "kvm" not in kind_options(False, libvirt=True) and "kvm" not in kind_options(True, libvirt=False)
    assert {"sandbox", "remote", "xen", "vmware"} <= set(kind_options(False, libvirt=False))
    names = [s.name for s in steps_for(KINDS["vmware"])]
    assert "hosts" not in names and "primary" not in names  # imported with the vCenter cluster
    cluster = next(s for s in steps_for(KINDS["vmware"]) if s.name == "cluster")
    assert {f.name for f in cluster.fields} >= {"url", "username", "password", "clustertype"}
    assert [s.name for s in steps_for(KINDS["remote"])].count("hosts") == 1


def fill(t, **values: str) -> None:  # type: ignore[no-untyped-def]
    form = page(t).query_one(FieldForm)
    for name, value in values.items():
        widget = form.query_one(f"#f-{name}")
        if isinstance(widget, Select):
            widget.value = value
        else:
            assert isinstance(widget, Input)
            widget.value = value


def error_text(t) -> str:  # type: ignore[no-untyped-def]
    return str(page(t).query_one("#error", Label).render())


async def start_kind(pilot, t, kind: str) -> None:  # type: ignore[no-untyped-def]
    await until(pilot, lambda: page(t).query(FieldForm))
    fill(t, kind=kind)
    await run_step(pilot, t, "zone")
    for nxt in ("network", "pod", "cluster"):
        await run_step(pilot, t, nxt)


async def test_xen_pool_path_fails_with_errortext_then_imports(
    app: VirgaApp, admin: VirgaClient, fake: FakeXapi, nfs: NfsFixture
) -> None:  # noqa: F811
    t = tui(admin, start="wizard")
    async with t.run_test(size=(120, 44)) as pilot:
        await start_kind(pilot, t, "xen")
        fill(t, url=fake.url, username="root", password="wrong")
        await run_step(pilot, t, None)  # the pool refuses the password: the step stays, with the errortext
        assert page(t).step.name == "cluster" and "addCluster failed" in error_text(t)
        assert "error 4" in error_text(t) or "error 5" in error_text(t)
        fill(t, password="password")
        await run_step(pilot, t, "secondary")  # hosts and primary storage came with the pool
        fill(t, url=nfs.url)  # a real zone's image store is mounted: a real NFS server
        await run_step(pilot, t, "launch")
        await run_step(pilot, t, None)
        w = page(t)
        assert "launch" in w.progress.done and not w.progress.failed, error_text(t)
        summary = str(w.query_one("#log", Static).render())
        assert "Zone enabled." in summary and "cluster" in summary and "imagestore secondary-1" in summary
        lessons = [e.cli for e in t.api.learn.entries if e.command == "addCluster"]
    assert lessons and "hypervisor=XenServer" in lessons[-1] and "password=****" in lessons[-1]
    assert f"url={fake.url}" in lessons[-1]
    hosts = await admin.list("listHosts", "host", hypervisor="XenServer")
    assert sorted(h["name"] for h in hosts) == ["xs1", "xs2"]
    zone = (await admin.list("listZones", "zone", id=hosts[0]["zoneid"]))[0]
    assert zone["allocationstate"] == "Enabled"
    stores = await admin.list("listImageStores", "imagestore", zoneid=zone["id"])
    assert [s["url"] for s in stores] == [nfs.url]


async def test_remote_hosts_need_a_password_and_show_the_api_error(app: VirgaApp, admin: VirgaClient) -> None:
    t = tui(admin, start="wizard")
    async with t.run_test(size=(120, 44)) as pilot:
        await start_kind(pilot, t, "remote")
        await run_step(pilot, t, "hosts")
        form = page(t).query_one(FieldForm)
        await pilot.press("ctrl+n")  # no password: inline error, no call
        await pilot.pause(0.2)
        assert "required" in str(form.query_one("#e-password", Label).render())
        assert not any(e.command == "addHost" for e in t.api.learn.entries)
        fill(t, urls="http://127.0.0.1:9", password="secret")
        await run_step(pilot, t, None)  # nothing answers there: the API's errortext is shown
        assert page(t).step.name == "hosts" and "addHost failed" in error_text(t)
        lesson = next(e for e in t.api.learn.entries if e.command == "addHost")
        assert "hypervisor=KVM" in lesson.cli and "url=http://127.0.0.1:9" in lesson.cli
        assert "username=root" in lesson.cli and "password=****" in lesson.cli and "secret" not in lesson.cli


async def test_console_action_reports_a_hypervisor_without_console(
    app: VirgaApp, admin: VirgaClient, cloud: Cloud
) -> None:
    net = make_network(app, cloud.zone, "admin")
    offering = (await admin.list("listServiceOfferings", "serviceoffering"))[0]["id"]
    await admin.run(
        "deployVirtualMachine",
        zoneid=cloud.zone,
        templateid=cloud.template,
        networkids=net,
        serviceofferingid=offering,
        name="con-1",
    )
    t = tui(admin, start="vm")
    async with t.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: isinstance(t.screen, InstancesBase) and t.screen.table.order)
        await pilot.press("a")
        await until(pilot, lambda: any("createConsoleEndpoint" in (n.title or "") for n in t._notifications))
        texts = [n.message for n in t._notifications]
    assert any("Serial consoles are not supported by the Simulator hypervisor" in m for m in texts), texts
