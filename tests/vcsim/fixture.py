"""Build the vcsim launcher once (cached by main.go's hash) and run it on loopback."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import select
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support import need

HERE = Path(__file__).resolve().parent
GOVMOMI = Path("/usr/share/gocode/src/github.com/vmware/govmomi")
CACHE = Path(os.environ.get("VIRGA_VCSIM_CACHE", Path.home() / ".cache" / "virga" / "vcsim"))
READY_TIMEOUT = 60.0
BUILD_TIMEOUT = 900


def _digest() -> str:
    """Hash of the launcher source, so an edit triggers a rebuild."""
    return hashlib.sha256((HERE / "main.go").read_bytes()).hexdigest()[:16]


def build() -> Path:
    """The launcher binary, built with `go build` (GOPATH mode) into the cache when missing."""
    out = CACHE / _digest() / "vcsim-virga"
    if out.exists():
        return out
    need(shutil.which("go") is not None, "the Go toolchain is missing (apt install golang-go)")
    need(GOVMOMI.is_dir(), "govmomi sources are missing (apt install golang-github-vmware-govmomi-dev)")
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not out.exists():
            _go_build(out)
    return out


def _go_build(out: Path) -> None:
    """Compile main.go to a temporary name and rename it into place."""
    gopath = CACHE / "gopath"
    env = {
        **os.environ,
        "GO111MODULE": "off",
        "GOPATH": f"{gopath}:/usr/share/gocode",
        "GOCACHE": str(CACHE / "gocache"),
    }
    tmp = out.with_suffix(".tmp")
    proc = subprocess.run(
        ["go", "build", "-o", str(tmp), "main.go"],
        cwd=HERE,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"building the vcsim launcher failed:\n{proc.stderr}")
    tmp.rename(out)
    for old in CACHE.iterdir():
        if old.is_dir() and old != out.parent and (old / "vcsim-virga").exists():
            shutil.rmtree(old, ignore_errors=True)  # builds of earlier main.go versions


@dataclass(frozen=True)
class Vcsim:
    """A running simulator: its SDK URL and credentials."""

    url: str
    username: str
    password: str
    proc: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the simulator's stderr (for diagnosing a failed test)."""
        return self.log.read_text(errors="replace")[-chars:]


def _read_url(proc: subprocess.Popen[bytes], log: Path) -> str:
    """Wait for the launcher's 'VCSIM_URL <url>' line."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], READY_TIMEOUT)
    line = proc.stdout.readline().decode() if ready else ""
    if not line.startswith("VCSIM_URL "):
        raise RuntimeError(f"vcsim did not start: {line!r} {log.read_text(errors='replace')[-2000:]}")
    return line.split()[1]


@contextlib.contextmanager
def running(*args: str, username: str = "virga", password: str = "s3cret") -> Iterator[Vcsim]:
    """Start the simulator on 127.0.0.1 (kernel-chosen port), stop it and remove its files after."""
    binary = build()
    tmp = Path(tempfile.mkdtemp(prefix="virga-vcsim-"))
    log = tmp / "vcsim.log"
    cmd = [str(binary), "-listen", "127.0.0.1:0", "-username", username, "-password", password, *args]
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            env={**os.environ, "TMPDIR": str(tmp)},
        )
    try:
        yield Vcsim(url=_read_url(proc, log), username=username, password=password, proc=proc, log=log)
    finally:
        _stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Close stdin (the launcher exits on EOF), then terminate, then kill."""
    with contextlib.suppress(OSError):
        if proc.stdin is not None:
            proc.stdin.close()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
