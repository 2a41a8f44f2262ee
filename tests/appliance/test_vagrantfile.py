"""The top-level Vagrantfile: Ruby syntax and `vagrant validate` (vagrant + vagrant-libvirt from apt)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.appliance.helpers import REPO, need_tools, run


def test_vagrantfile_syntax() -> None:
    need_tools("ruby")
    assert "Syntax OK" in run(["ruby", "-c", str(REPO / "Vagrantfile")]).stdout


def test_vagrantfile_settings() -> None:
    text = (REPO / "Vagrantfile").read_text()
    for needle in (
        "lv.nested = true",
        'lv.cpu_mode = "host-passthrough"',
        '"--nested-hw-virt", "on"',
        'VIRGA_MEMORY", "4096"',
        "guest: 8080",
        "install.sh",
        "--tui-user vagrant",
    ):
        assert needle in text, needle


def test_vagrant_validate(tmp_path: Path) -> None:
    need_tools("vagrant")
    shutil.copy(REPO / "Vagrantfile", tmp_path / "Vagrantfile")
    shutil.copytree(REPO / "appliance", tmp_path / "appliance")
    env = {**os.environ, "VAGRANT_HOME": str(tmp_path / ".vagrant.d"), "VAGRANT_CHECKPOINT_DISABLE": "1"}
    out = run(["vagrant", "validate"], cwd=tmp_path, env=env, timeout=300)
    assert "validated successfully" in out.stdout
