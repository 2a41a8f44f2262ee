"""Benchmarks cannot rot: each one's short mode runs and prints its figures (labels and numbers, never values)."""

from __future__ import annotations

import ast
import math
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import need

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"
N = r"([^\s(),;%]+)"  # a figure: checked to be a finite number, never compared with anything


def need_root_and(*tools: str) -> None:
    """Root and these executables (benchmarks that build network namespaces and start daemons)."""
    need(os.geteuid() == 0, "root is needed (network namespaces, daemons)")
    missing = [t for t in tools if shutil.which(t) is None]
    need(not missing, f"missing tools: {', '.join(missing)}")


def need_libvirt() -> None:
    """What bench/boot.py needs: root, libvirt/QEMU and its Python binding (like tests/libvirt)."""
    from tests.libvirt import support

    need(os.geteuid() == 0, "root is needed for qemu:///system")
    need(support.tools_present(), "apt: libvirt-daemon-system qemu-system-x86 qemu-utils dosfstools mtools")
    need(shutil.which("dnsmasq"), "apt: dnsmasq-base")
    try:
        import libvirt  # noqa: F401
    except ImportError:
        need(False, "pip: libvirt-python")


def need_appliance() -> None:
    """A built appliance (tests/appliance/test_boot.py builds it into the cache) and QEMU."""
    from bench.support.appliance import CACHE

    built = (CACHE / "appliance-test" / "virga-appliance-rootfs.qcow2").exists()
    need(built, "a built appliance (tests/appliance/test_boot.py, or ./dev.sh test -m appliance, builds it)")
    need(shutil.which("qemu-system-x86_64"), "apt: qemu-system-x86")


def storage_line(label: str) -> str:
    """A bench/storage.py comparison line: ours and the baseline, rate and time each, and their ratio."""
    rate = rf"{N} MiB/s \({N}s\)"
    return rf"{re.escape(label)}\s+virga\s+{rate}\s+baseline\s+{rate}\s+ratio {N}"


def tui_line(label: str) -> str:
    """A bench/tui.py percentile line."""
    return rf"{re.escape(label)}\s+p50\s+{N}\s+p95\s+{N}\s+max\s+{N} ms"


# script, prerequisite check, seconds allowed, the figure lines it must print
BENCHMARKS: dict[str, tuple[Callable[[], None], int, list[str]]] = {
    "api.py": (
        lambda: None,
        240,
        [
            rf"seeded \d+ hosts, \d+ VMs in {N} s",
            rf"idle RSS of the management server: {N} MB",
            rf"listVirtualMachines \{{'pagesize': 500, 'page': 1, .*\}}: median {N} ms",
            rf"listHosts .*: median {N} ms",
            rf"deploy throughput, \d+ concurrent clients, \d+ VMs per run: median {N} VMs/s",
            rf"management server CPU per deployed VM .*: {N} ms \({N} API calls per VM",
            rf"benchmark client CPU per deployed VM .*: {N} ms",
            rf"RSS after the deploys: {N} MB",
        ],
    ),
    "tui.py": (
        lambda: None,
        240,
        [
            rf"start-up to first paint \(median\):\s+{N} ms",
            tui_line("filter keystroke -> frame:"),
            tui_line("page-down -> frame:"),
            tui_line("filter key, no refresh:"),
            rf"p50 ratio [\d,]+ / 10 VMs:\s+{N}",
            rf"max RSS:\s+{N} MB",
            rf"view switch -> frame \(\d+\):\s+p50\s+{N}\s+p95\s+{N}\s+max\s+{N} ms",
            rf":vm -> \d+ rows shown:\s+p50\s+{N}\s+p95\s+{N}\s+max\s+{N} ms",
            rf"RSS after \d+ / \d+ switches:\s+{N} / {N} MB",
            rf"API calls/min, one view shown:\s+{N} after \d+ switches, {N} never switched",
        ],
    ),
    "router.py": (
        lambda: need_root_and("ip", "nft", "dnsmasq", "haproxy"),
        240,
        [
            rf"router bring-up .*: median {N} ms",
            rf"1,000-rule firewall change via apply\(\): median {N} ms; `nft -f` alone: {N} ms; ratio {N}x",
            rf"\d+ routers: {N} processes, RSS {N} MiB together",
        ],
    ),
    "storage.py": (
        lambda: need_root_and("ganesha.nfsd", "rpcbind", "nfs-cp", "qemu-img", "curl", "sha256sum", "ip"),
        300,
        [
            storage_line("download, no checksum vs curl -o"),
            storage_line("download+sha256 vs curl -o"),
            storage_line("download job vs curl;sha256sum;nfs-cp"),
            storage_line("copy-to-primary vs qemu-img convert"),
            storage_line("snapshot backup (200M/1G) vs convert"),
            rf"machine: load average {N} \(1 min\)",
        ],
    ),
    "boot.py": (
        need_libvirt,
        600,
        [
            rf"deployVirtualMachine job done \(VM Running\), median: {N} s",
            rf"raw qemu -accel tcg, direct kernel -> login: {N} s",
            rf"raw qemu -accel tcg, same disk \(BIOS\+syslinux\) -> login: {N} s",
            rf"driver define\+start, no NIC -> login: {N} s",
            rf"driver define\+start, NIC without DHCP server -> login: {N} s",
            rf"deployVirtualMachine \(API, NIC with DHCP\) -> login: {N} s",
            rf"driver memory per running guest: {N} KiB \(tracemalloc\), {N} KiB",
        ],
    ),
}


def run_short(script: str, timeout: int) -> subprocess.CompletedProcess[str]:
    """Run one benchmark's short mode in its own process group (killed whole on timeout)."""
    proc = subprocess.Popen(
        [sys.executable, str(BENCH / script), "--short"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"{script} --short ran over {timeout} s:\n{out[-3000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, "")


def check_figures(script: str, output: str, patterns: list[str]) -> None:
    """Every figure line is there and each of its figures is a finite number."""
    for pattern in patterns:
        found = re.search(pattern, output)
        assert found, f"{script}: no line matching {pattern!r} in:\n{output[-3000:]}"
        for figure in found.groups():
            try:
                number = float(figure)
            except ValueError:
                number = math.nan
            assert math.isfinite(number), f"{script}: {figure!r} is not a number in {found.group(0)!r}"


@pytest.mark.slow
@pytest.mark.parametrize("script", list(BENCHMARKS))
def test_short_mode_prints_its_figures(script: str) -> None:
    """`bench/<script> --short` exits 0 and prints every figure line, with numbers in it."""
    prerequisites, timeout, patterns = BENCHMARKS[script]
    prerequisites()
    result = run_short(script, timeout)
    assert result.returncode == 0, f"{script} --short exited {result.returncode}:\n{result.stdout[-3000:]}"
    check_figures(script, result.stdout, patterns)


@pytest.mark.appliance
@pytest.mark.slow
@pytest.mark.integration
def test_appliance_short_mode_prints_its_figures() -> None:
    """`bench/appliance.py --short` (sizes, one TCG boot until the API answers) on the appliance test's image."""
    need_appliance()
    result = run_short("appliance.py", 660)
    assert result.returncode == 0, f"appliance.py --short exited {result.returncode}:\n{result.stdout[-3000:]}"
    check_figures(
        "appliance.py",
        result.stdout,
        [rf"size virga-appliance-rootfs.qcow2: {N} MiB", rf"boot to API answering under TCG: {N} s \(median of 1\)"],
    )


def test_every_benchmark_has_a_short_mode_checked_here() -> None:
    """Each bench/*.py is in this test (a new benchmark cannot go unchecked) and takes --short."""
    scripts = {p.name for p in BENCH.glob("*.py") if not p.name.startswith("_")}
    assert scripts == set(BENCHMARKS) | {"appliance.py"}
    for name in scripts:
        assert "add_short(" in (BENCH / name).read_text(), f"{name} has no --short"


def _tests_references(path: Path) -> list[str]:
    """Imports of the tests package in a file, and `-m tests.` module runs it starts."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "tests"]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "tests":
            found.append(node.module)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("tests."):
            found.append(node.value)
    return found


def test_benchmarks_import_nothing_from_tests() -> None:
    """No file under bench/ imports (or runs) anything from tests/."""
    offenders = {str(p.relative_to(REPO)): refs for p in BENCH.rglob("*.py") if (refs := _tests_references(p))}
    assert offenders == {}
