"""The fake XAPI speaks the wire protocol a real pool master does (checked with raw XML-RPC)."""

from __future__ import annotations

import time
import xmlrpc.client

from tests.fakes.xapi import FakeXapi


def login(proxy: xmlrpc.client.ServerProxy) -> str:
    """Open a session with raw XML-RPC."""
    answer = proxy.session.login_with_password("root", "password", "2.21", "test")
    assert answer["Status"] == "Success" and answer["Value"].startswith("OpaqueRef:")
    return str(answer["Value"])


def test_envelopes_sessions_and_errors(fake: FakeXapi) -> None:
    proxy = xmlrpc.client.ServerProxy(fake.url, allow_none=True)
    bad = proxy.session.login_with_password("root", "nope", "2.21", "test")
    assert bad == {
        "Status": "Failure",
        "ErrorDescription": ["SESSION_AUTHENTICATION_FAILED", "root", "Authentication failure"],
    }
    assert proxy.VM.get_all("OpaqueRef:stale")["ErrorDescription"] == ["SESSION_INVALID", "OpaqueRef:stale"]
    session = login(proxy)
    assert proxy.VM.get_record(session, "OpaqueRef:gone")["ErrorDescription"] == [
        "HANDLE_INVALID",
        "VM",
        "OpaqueRef:gone",
    ]
    assert proxy.VM.frobnicate(session)["ErrorDescription"] == ["MESSAGE_METHOD_UNKNOWN", "VM.frobnicate"]
    assert proxy.VM.get_record(session)["ErrorDescription"][0] == "MESSAGE_PARAMETER_COUNT_MISMATCH"
    sr = proxy.SR.get_by_name_label(session, "NFS shared")["Value"][0]
    assert proxy.SR.get_physical_size(session, sr)["Value"] == str(500 << 30)  # 64-bit ints as strings


def test_power_state_checks_and_async_tasks(fake: FakeXapi) -> None:
    proxy = xmlrpc.client.ServerProxy(fake.url, allow_none=True)
    session = login(proxy)
    tmpl = proxy.VM.get_by_name_label(session, "Tiny Linux")["Value"][0]
    task = proxy.Async.VM.clone(session, tmpl, "raw")["Value"]
    assert task.startswith("OpaqueRef:")
    while proxy.task.get_status(session, task)["Value"] == "pending":
        time.sleep(0.02)
    rec = proxy.task.get_record(session, task)["Value"]
    assert rec["progress"] == 1.0 and rec["result"].startswith("<value>OpaqueRef:")
    vm = rec["result"][len("<value>") : -len("</value>")]
    proxy.VM.set_is_a_template(session, vm, False)
    answer = proxy.VM.clean_shutdown(session, vm)
    assert answer["ErrorDescription"] == ["VM_BAD_POWER_STATE", vm, "running", "halted"]


def test_event_from_tokens(fake: FakeXapi) -> None:
    proxy = xmlrpc.client.ServerProxy(fake.url, allow_none=True)
    session = login(proxy)
    first = getattr(proxy.event, "from")(session, ["vm"], "", 0.0)["Value"]
    assert {e["operation"] for e in first["events"]} == {"add"} and len(first["events"]) == 4
    quiet = getattr(proxy.event, "from")(session, ["vm"], first["token"], 0.1)["Value"]
    assert quiet["events"] == []
    tmpl = proxy.VM.get_by_name_label(session, "Tiny Linux")["Value"][0]
    proxy.VM.set_name_description(session, tmpl, "changed")
    moved = getattr(proxy.event, "from")(session, ["vm"], quiet["token"], 1.0)["Value"]
    assert [(e["operation"], e["ref"]) for e in moved["events"]] == [("mod", tmpl)]
    assert moved["events"][0]["snapshot"]["name_description"] == "changed"


def test_slave_answers_host_is_slave(fake: FakeXapi) -> None:
    with FakeXapi(fake.db, master_address=fake.address) as slave:
        proxy = xmlrpc.client.ServerProxy(slave.url, allow_none=True)
        answer = proxy.session.login_with_password("root", "password", "2.21", "test")
        assert answer == {"Status": "Failure", "ErrorDescription": ["HOST_IS_SLAVE", fake.address]}
