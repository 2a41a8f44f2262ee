"""The one installer, run twice in a debootstrapped Debian bookworm chroot: the second run changes nothing."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest

from tests.appliance.helpers import CACHE, REPO, build_wheel, manifest, need_root, need_tools, run, wheelhouse

MIRROR_SCRIPT = REPO / "images" / "appliance" / "apt_mirror.py"
CHROOT_RUNNER = REPO / "tests" / "appliance" / "run-in-chroot.sh"
# Files that legitimately change between two runs whatever the installer does.
VOLATILE = (
    "/proc",
    "/sys",
    "/dev",
    "/run",
    "/tmp",
    "/var/cache",
    "/var/log",
    "/var/lib/apt/lists",
    "/etc/resolv.conf",
    "/root/.cache",
)


def bookworm_tarball() -> Path:
    """A minbase bookworm tree as a tarball, debootstrapped once and cached."""
    tarball = CACHE / "bookworm-minbase.tar.gz"
    if tarball.exists():
        return tarball
    mirror = run(["python3", str(MIRROR_SCRIPT), "debian"]).stdout.strip()
    build = CACHE / "chroot-build"
    shutil.rmtree(build, ignore_errors=True)
    run(["debootstrap", "--variant=minbase", "bookworm", str(build), mirror], timeout=1800)
    run(["tar", "-C", str(build), "-czf", str(tarball) + ".part", "."])
    Path(str(tarball) + ".part").rename(tarball)
    shutil.rmtree(build)
    return tarball


@pytest.fixture
def chroot(tmp_path: Path):
    """A fresh bookworm tree with the installer payload in /tmp/payload; removed afterwards."""
    need_root()
    need_tools("debootstrap", "unshare", "chroot")
    root = tmp_path / "root"
    root.mkdir()
    with tarfile.open(bookworm_tarball()) as tar:
        tar.extractall(root, numeric_owner=True, filter="fully_trusted")
    payload = root / "tmp" / "payload"
    payload.mkdir(parents=True)
    for name in ("install.sh", "systemd", "firstboot"):
        src = REPO / "appliance" / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, payload / name)
    build_wheel(payload)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def install(root: Path, report: str) -> str:
    """Run the installer in ROOT (offline wheels, cached .debs) and return its report."""
    debs = CACHE / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    wheel = next((root / "tmp" / "payload").glob("virga-*.whl"))
    house = wheelhouse(wheel)
    run(
        [
            str(CHROOT_RUNNER),
            str(root),
            f"{debs}:/var/cache/apt/archives",
            f"{house}:/tmp/wheelhouse",
            "--",
            "/tmp/payload/install.sh",
            "--wheel",
            f"/tmp/payload/{wheel.name}",
            "--wheelhouse",
            "/tmp/wheelhouse",
            "--report",
            f"/tmp/{report}",
        ],
        timeout=1800,
    )
    return (root / "tmp" / report).read_text()


@pytest.mark.appliance
@pytest.mark.slow
@pytest.mark.integration
def test_installer_twice_changes_nothing(chroot: Path) -> None:
    first = install(chroot, "report1")
    assert "changed: /etc/systemd/system/virga-firstboot.service" in first
    assert "changed: enabled virga-server.service" in first
    before = manifest(chroot, VOLATILE)
    second = install(chroot, "report2")
    after = manifest(chroot, VOLATILE)
    assert second == "changes: 0\n"
    diff = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert not diff, sorted(diff)[:20]
    assert (chroot / "opt/virga/bin/virga").exists()
    assert (chroot / "etc/systemd/system/multi-user.target.wants/virga-firstboot.service").is_symlink()
    out = run(
        [
            str(CHROOT_RUNNER),
            str(chroot),
            "--",
            "/opt/virga/bin/python",
            "-c",
            "import virga, libvirt; print('imports ok')",
        ]
    ).stdout
    assert "imports ok" in out
