"""The wizard's "this machine" path: a missing prerequisite is shown with its text, then retried."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static
from virga.cli.real import build as realdemo
from virga.cli.real import check as realcheck
from virga.client import VirgaClient
from virga.core import VirgaApp
from virga.tui import wizard_steps
from virga.tui.widgets.field_form import FieldForm

from tests.tui.conftest import tui, until
from tests.tui.test_wizard import page, run_step
from tests.tui.test_wizard_paths import error_text, fill


def log_text(t) -> str:  # type: ignore[no-untyped-def]
    return str(page(t).query_one("#log", Static).render())


async def test_this_machine_shows_a_missing_prerequisite_then_retries(
    app: VirgaApp, admin: VirgaClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(wizard_steps, "libvirt_available", lambda *a: True)  # offer the choice
    path = os.environ["PATH"]
    t = tui(admin, start="wizard")
    async with t.run_test(size=(120, 44)) as pilot:
        await until(pilot, lambda: page(t).query(FieldForm))
        fill(t, kind="kvm")
        await run_step(pilot, t, "check")
        assert [s.name for s in page(t).steps] == ["kind", "check", "build"]
        monkeypatch.setenv("PATH", str(tmp_path))  # no QEMU, no NFS server on this PATH
        await run_step(pilot, t, None)
        assert page(t).step.name == "check" and page(t).progress.failed == "check"
        err = error_text(t)
        assert "cannot run here" in err and "qemu-img not found (apt qemu-utils)" in err and "retry" in err
        assert "no NFS server" in err
        # fixed: the retry runs the check again and goes on to the build page
        monkeypatch.setenv("PATH", path)

        async def fixed(url: str = "") -> list[str]:
            assert url == ""  # the embedded server: this machine
            return ["no /dev/kvm: guests run under QEMU TCG (slower, but they boot)"]

        monkeypatch.setattr(realcheck, "check", fixed)
        await run_step(pilot, t, "build")
        assert not page(t).progress.failed and "check" in page(t).progress.done
        assert error_text(t) == ""


async def test_this_machine_build_failure_then_summary(
    app: VirgaApp, admin: VirgaClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wizard_steps, "libvirt_available", lambda *a: True)

    async def no_gaps(url: str = "") -> list[str]:
        return []

    runs: list[int] = []

    async def build(client: VirgaClient, say: Any, vms: int = 2) -> dict[str, Any]:
        runs.append(vms)
        assert client is admin
        say(f"secondary storage nfs://127.0.0.1/secondary (started) run {len(runs)}")
        if len(runs) == 1:
            raise realdemo.DemoError("the virga-tiny template's download failed: Download Failed")
        return {"zone": "z", "template": "t", "network": "n", "vms": ["v1"]}

    monkeypatch.setattr(realcheck, "check", no_gaps)
    monkeypatch.setattr(realdemo, "build_real", build)
    t = tui(admin, start="wizard")
    async with t.run_test(size=(120, 44)) as pilot:
        await until(pilot, lambda: page(t).query(FieldForm))
        fill(t, kind="kvm")
        await run_step(pilot, t, "check")
        await run_step(pilot, t, "build")
        fill(t, vms="1")
        await run_step(pilot, t, None)
        assert "Build the sandbox failed: the virga-tiny template's download failed" in error_text(t)
        assert "run 1" in log_text(t)
        w = page(t)
        await pilot.press("ctrl+n")  # retry from the failed step
        await until(pilot, lambda: "build" in w.progress.done)
        assert not w.progress.failed and error_text(t) == "" and "run 2" in log_text(t)
        assert w.progress.state["created"][0] == f"zone {realdemo.ZONE}"
    assert runs == [1, 1]
