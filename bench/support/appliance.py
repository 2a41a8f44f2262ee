"""Boot a built appliance under QEMU (TCG by default) with direct kernel boot and watch its serial console.

Used by bench/appliance.py and tests/appliance (the test's build lands in CACHE / "appliance-test").
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

CACHE = Path(os.environ.get("VIRGA_CACHE_DIR", Path.home() / ".cache" / "virga"))

# First-boot milestones: the API answers (the admin is created next), template registered, template ready,
# first guest deployed, first guest Running.
PHASE_MARKERS = (
    "creating the root admin's password",
    "registering the virga-tiny template",
    "template virga-tiny ready",
    "deploying the first guest",
    "first guest virga-first Running",
)
DONE_MARKERS = ("VIRGA-STATUS zones=", "VIRGA-STATUS api=unreachable", "Kernel panic")


@dataclass
class BootResult:
    """What the serial console showed and when (seconds since QEMU started)."""

    console: str
    seconds: float
    marks: dict[str, float] = field(default_factory=dict)

    def status(self, key: str) -> str | None:
        """The value of a `VIRGA-STATUS key=value` console line."""
        tag = f"VIRGA-STATUS {key}="
        for line in self.console.splitlines():
            # getty's "login:" prompt may share the line: look for the tag anywhere in it.
            if tag in line:
                return line.split(tag, 1)[1].strip()
        return None


def qemu_command(out: Path, overlay: Path, console: Path, accel: str) -> list[str]:
    """QEMU booting OUT's kernel and initrd with OVERLAY as the root disk, console to a file."""
    return [
        "qemu-system-x86_64",
        "-accel",
        accel,
        "-m",
        os.environ.get("VIRGA_APPLIANCE_MEMORY", "3072"),
        "-smp",
        "2",
        "-cpu",
        "max" if accel == "tcg" else "host",
        "-nodefaults",
        "-display",
        "none",
        "-no-reboot",
        "-kernel",
        str(out / "vmlinuz"),
        "-initrd",
        str(out / "initrd.img"),
        "-append",
        "root=/dev/vda rw console=ttyS0 systemd.show_status=1 panic=-1 " + os.environ.get("VIRGA_APPLIANCE_APPEND", ""),
        "-drive",
        f"file={overlay},if=virtio,format=qcow2",
        "-nic",
        "user,restrict=on,model=virtio-net-pci",
        "-serial",
        f"file:{console}",
    ]


def boot(out: Path, work: Path, timeout: float, accel: str = "tcg", stop: tuple[str, ...] = DONE_MARKERS) -> BootResult:
    """Boot the appliance built in OUT on a throwaway overlay; stop at a STOP marker (the status report) or TIMEOUT."""
    overlay, console = work / "overlay.qcow2", work / "console.log"
    subprocess.run(
        [
            "qemu-img",
            "create",
            "-q",
            "-f",
            "qcow2",
            "-F",
            "qcow2",
            "-b",
            str(out / "virga-appliance-rootfs.qcow2"),
            str(overlay),
        ],
        check=True,
    )
    console.write_text("")
    start = time.monotonic()
    proc = subprocess.Popen(
        qemu_command(out, overlay, console, accel), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    marks: dict[str, float] = {}
    try:
        while time.monotonic() - start < timeout and proc.poll() is None:
            text = console.read_text(errors="replace")
            for marker in ("Multi-User System", "VIRGA-STATUS api=ready", *PHASE_MARKERS, *DONE_MARKERS):
                if marker in text and marker not in marks:
                    marks[marker] = time.monotonic() - start
            if any(m in text for m in stop):
                break
            time.sleep(2)
    finally:
        proc.kill()
        proc.wait()
        overlay.unlink(missing_ok=True)
    text = console.read_text(errors="replace")
    if proc.stderr is not None:
        text += "\n[qemu stderr] " + proc.stderr.read()
    return BootResult(text, time.monotonic() - start, marks)
