"""Process supervision: run commands inside a namespace, start/stop/check pidfile daemons."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from virga.appliance.router.errors import ApplyError
from virga.appliance.router.nsenter import netns as entered


def run(argv: list[str], netns: str | None = None, stdin: str | None = None, check: bool = True) -> str:
    """Run a command (in a namespace), returning stdout; raise ApplyError on failure when check.

    The child is forked from this thread after setns(2), so it starts in the namespace directly
    (cheaper than `ip netns exec`, which also remounts /sys: nothing run here needs that).
    """
    try:
        with entered(netns):
            proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        if check:
            raise ApplyError(f"{' '.join(argv)}: {exc}") from exc
        return ""
    except ApplyError:
        if check:
            raise
        return ""
    if check and proc.returncode != 0:
        raise ApplyError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()[:2000]}")
    return proc.stdout


def read_pid(pidfile: Path) -> int | None:
    """The pid written in a pidfile, or None."""
    try:
        return int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def pid_alive(pid: int | None, marker: str | None = None) -> bool:
    """Whether pid runs (not a zombie) and, if marker is given, its command line contains it."""
    if not pid:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
        return False
    return marker is None or marker in cmdline


def alive(pidfile: Path, marker: str | None = None) -> bool:
    """Whether the daemon of a pidfile runs."""
    return pid_alive(read_pid(pidfile), marker)


def start_daemon(argv: list[str], pidfile: Path, netns: str | None, marker: str, wait_s: float = 5.0) -> int:
    """Start a self-daemonising program that writes pidfile; wait until it is up and return its pid."""
    pidfile.unlink(missing_ok=True)
    run(argv, netns=netns)
    return wait_pidfile(pidfile, marker, wait_s)


def spawn(argv: list[str], pidfile: Path, log: Path, marker: str, wait_s: float = 5.0) -> int:
    """Start a foreground program detached (setsid -f), which writes its own pidfile; return its pid."""
    pidfile.unlink(missing_ok=True)
    with open(log, "ab") as out:
        subprocess.run(["setsid", "-f", *argv], stdin=subprocess.DEVNULL, stdout=out, stderr=out, check=True)
    return wait_pidfile(pidfile, marker, wait_s)


def wait_pidfile(pidfile: Path, marker: str, wait_s: float) -> int:
    """Poll a pidfile until it names a live process carrying marker."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        pid = read_pid(pidfile)
        if pid_alive(pid, marker):
            return pid  # type: ignore[return-value]
        time.sleep(0.01)
    raise ApplyError(f"daemon did not come up: {pidfile} ({marker})")


def stop(pidfile: Path, marker: str | None = None, wait_s: float = 3.0) -> bool:
    """SIGTERM (then SIGKILL) the daemon of a pidfile; return whether one was running."""
    pid = read_pid(pidfile)
    if not pid_alive(pid, marker):
        pidfile.unlink(missing_ok=True)
        return False
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_s
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
    pidfile.unlink(missing_ok=True)
    return True


def signal_daemon(pidfile: Path, sig: int, marker: str | None = None) -> bool:
    """Send a signal to the daemon of a pidfile if it runs."""
    pid = read_pid(pidfile)
    if not pid_alive(pid, marker):
        return False
    assert pid is not None
    os.kill(pid, sig)
    return True


def rss_kb(pid: int) -> int:
    """Resident set size of a process in KiB (0 when gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0
