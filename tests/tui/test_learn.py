"""The learning pane (masked keys, cmk line, method, whole history) and `virga learn export`."""

from __future__ import annotations

import subprocess
from pathlib import Path

from textual.widgets import Static, Tree
from virga.cli.learn import export, script
from virga.tui.api import Lesson, cmk_line
from virga.tui.screens.dashboard import DashboardScreen
from virga.tui.screens.infra import InfraScreen
from virga.tui.widgets.learn_pane import LearnPane

from tests.tui.conftest import until
from tests.tui.demo import uid
from tests.tui.test_navigation import demo, loaded


def test_cmk_line_splits_the_verb_from_the_noun() -> None:
    assert cmk_line("deployVirtualMachine", {"zoneid": "z", "name": "a b"}) == (
        "cmk deploy virtualmachine zoneid=z 'name=a b'"
    )
    assert cmk_line("queryAsyncJobResult", {"jobid": "j"}) == "cmk query asyncjobresult jobid=j"
    assert cmk_line("createUser", {"password": "secret"}) == "cmk create user 'password=****'"


def test_request_is_a_post_body_with_key_and_signature_masked_until_revealed() -> None:
    lesson = Lesson("listZones", "", "/client/api?command=listZones&apiKey=AKEY&signature=S%2Fig%3D&response=json")
    shown = lesson.shown_request()
    assert shown.startswith("POST /client/api  body: command=listZones")
    assert "apiKey=****" in shown and "signature=****" in shown and "AKEY" not in shown
    assert "apiKey=AKEY" in lesson.shown_request(reveal=True)


async def test_pane_keeps_the_whole_session_masks_and_reveals(tmp_path: Path) -> None:
    t, client = demo("vm")
    async with t.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, t)
        for n in range(8):
            await t.api.act("stopVirtualMachine", quiet=True, id=uid("vm", n + 1))
        await pilot.press("f2")
        pane = t.screen.query_one(LearnPane)
        text = str(LearnPane.render_lessons(t.api.learn.entries))
        assert text.count("$ virga api stopVirtualMachine") == 8  # not only the last 5
        assert "cmk: cmk stop virtualmachine id=" in text
        rendered = pane.query_one("#lessons", Static).render()
        assert "DEMOKEY" not in str(rendered) and "apiKey=****" in str(rendered)
        await pilot.press("f3")
        await pilot.pause(0.05)
        assert "apiKey=DEMOKEY" in str(pane.query_one("#lessons", Static).render())
    assert not t.internal_errors


async def test_export_writes_the_session_as_a_runnable_script(tmp_path: Path) -> None:
    session = tmp_path / "session.jsonl"
    t, client = demo("vm")
    t.api.learn.path = session
    client.fail["destroyVirtualMachine"] = (431, "no such VM")
    async with t.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, t)
        await t.api.act("stopVirtualMachine", quiet=True, id=uid("vm", 1))
        await t.api.act("createUser", quiet=True, username="ann", password="s3cret", account="admin")
        await t.api.act("destroyVirtualMachine", quiet=True, id="nope")
    assert "s3cret" not in session.read_text()
    out = tmp_path / "replay.sh"
    assert export(out, session) == 3
    text = out.read_text()
    assert "# error 431: no such VM" in text
    # run it with a stand-in `virga` that prints its arguments, one call per line
    stub = tmp_path / "virga-stub"
    stub.write_text('#!/bin/sh\necho "$@"\n')
    stub.chmod(0o755)
    ran = subprocess.run(
        ["sh", str(out)],
        env={"VIRGA": str(stub), "VIRGA_PASSWORD": "pw", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert ran.stdout.splitlines() == [
        f"api stopVirtualMachine id={uid('vm', 1)}",
        "api createUser username=ann password=pw account=admin",
    ]
    assert "cmk stop virtualmachine id=" in script(
        [{"command": "stopVirtualMachine", "params": {"id": "x"}, "outcome": "ok"}], cmk=True
    )


async def test_filter_on_the_infra_tree_and_the_dashboard() -> None:
    t, _ = demo("infra")
    async with t.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(t.screen, InfraScreen) and len(t.screen.nodes) == 5)
        await pilot.press("slash", *"sim-host-2", "enter")
        assert set(t.screen.nodes) == {uid("zone", 1), uid("pod", 1), uid("clus", 1), uid("host", 2)}
        assert t.screen.query_one(Tree).root.children[0].data[1]["name"] == "lab-zone"
        await pilot.press("slash", *uid("host", 1), "enter")  # ids too
        assert uid("host", 1) in t.screen.nodes and uid("host", 2) not in t.screen.nodes
        await pilot.press("slash", "escape")
        assert len(t.screen.nodes) == 5
        await pilot.press("colon", *"dash", "enter")
        await until(pilot, lambda: isinstance(t.screen, DashboardScreen))
        events = t.screen.query_one("#events", Static)
        await until(pilot, lambda: "deployed web-1" in str(events.render()))
        await pilot.press("slash", *"capacity", "enter")
        await until(pilot, lambda: "deployed web-1" not in str(events.render()))
        assert "insufficient capacity" in str(events.render())
    assert not t.internal_errors
