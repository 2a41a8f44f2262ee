"""Lint the diskimage-builder elements, the installer and the first-boot scripts."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.appliance.helpers import ELEMENTS, REPO, need

HOOK_DIRS = {
    "block-device.d",
    "cleanup.d",
    "environment.d",
    "extra-data.d",
    "finalise.d",
    "install.d",
    "post-install.d",
    "pre-install.d",
    "root.d",
}
SCRIPT_NAME = re.compile(r"^\d\d-[a-z0-9]+(-[a-z0-9]+)+$")
ELEMENT_NAMES = sorted(p.name for p in ELEMENTS.iterdir() if p.is_dir())
SHELL_FILES = [
    REPO / "appliance" / "install.sh",
    REPO / "appliance" / "firstboot" / "virga-firstboot",
    REPO / "appliance" / "firstboot" / "virga-status",
    REPO / "appliance" / "firstboot" / "virga-tui",
    REPO / "appliance" / "firstboot" / "virga-profile.sh",
    REPO / "images" / "appliance" / "build.sh",
    REPO / "images" / "appliance" / "make-boxes.sh",
    REPO / "images" / "appliance" / "make-disk.sh",
    REPO / "tests" / "appliance" / "run-in-chroot.sh",
]


def hook_scripts(element: Path) -> list[Path]:
    """Every script in the element's phase directories."""
    return sorted(p for d in element.iterdir() if d.name in HOOK_DIRS for p in d.iterdir())


def test_there_are_elements() -> None:
    assert {"virga-appliance", "virga-vagrant"} <= set(ELEMENT_NAMES)


@pytest.mark.parametrize("name", ELEMENT_NAMES)
def test_element_has_readme(name: str) -> None:
    element = ELEMENTS / name
    readmes = [p for p in ("README.rst", "README.md") if (element / p).is_file()]
    assert readmes, f"{name} lacks README.rst"
    text = (element / readmes[0]).read_text()
    assert name in text.splitlines()[1], "the README's title is the element's name"


@pytest.mark.parametrize("name", ELEMENT_NAMES)
def test_element_deps_sorted_and_known(name: str) -> None:
    deps_file = ELEMENTS / name / "element-deps"
    if not deps_file.exists():
        return
    deps = [line.strip() for line in deps_file.read_text().splitlines() if line.strip()]
    assert deps == sorted(deps), f"{name}/element-deps is not sorted"
    assert len(deps) == len(set(deps)), f"{name}/element-deps repeats an element"


@pytest.mark.parametrize("name", ELEMENT_NAMES)
def test_element_layout(name: str) -> None:
    element = ELEMENTS / name
    allowed = HOOK_DIRS | {
        "README.rst",
        "README.md",
        "element-deps",
        "element-provides",
        "package-installs.yaml",
        "pkg-map",
        "static",
    }
    assert {p.name for p in element.iterdir()} <= allowed
    for script in hook_scripts(element):
        phase = script.parent.name
        if phase == "environment.d":
            assert re.match(r"^\d\d-[a-z0-9-]+\.bash$", script.name), script
            assert not os.access(script, os.X_OK), f"{script} is sourced, not executed"
            continue
        assert SCRIPT_NAME.match(script.name), f"{script.name} is not NN-verb-noun"
        assert os.access(script, os.X_OK), f"{script} is not executable"
        text = script.read_text()
        assert text.startswith("#!/bin/bash\n"), f"{script} lacks #!/bin/bash"
        assert "set -eu -o pipefail" in text, f"{script} lacks set -eu -o pipefail"


def test_installer_scripts_executable() -> None:
    for path in SHELL_FILES:
        if path.name == "virga-profile.sh":
            continue  # sourced by login shells
        assert os.access(path, os.X_OK), f"{path} is not executable"
        assert "set -eu" in path.read_text(), f"{path} lacks set -eu"


def test_shellcheck_every_script() -> None:
    need(shutil.which("shellcheck"), "shellcheck (apt-get install shellcheck)")
    scripts = [str(p) for name in ELEMENT_NAMES for p in hook_scripts(ELEMENTS / name)]
    scripts += [str(p) for p in SHELL_FILES]
    proc = subprocess.run(["shellcheck", "-s", "bash", "-x", *scripts], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_systemd_units_are_complete() -> None:
    units = sorted((REPO / "appliance" / "systemd").glob("*.service"))
    assert {u.name for u in units} >= {
        "virga-firstboot.service",
        "virga-server.service",
        "virga-router.service",
        "virga-router-host.service",
        "virga-storage.service",
    }
    for unit in units:
        text = unit.read_text()
        assert "[Install]" in text and "WantedBy=multi-user.target" in text, unit
        assert "Description=" in text, unit
