"""Test helpers: namespaces, guest legs, DHCP clients and tiny servers inside namespaces."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.support import need  # noqa: F401  (re-exported for this package's tests)

UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$router" ] && ip route replace default via "$router"
    echo "$ip $hostname $dns $domain" > "$LEASE_OUT"
    ;;
esac
exit 0
"""


def sh(cmd: list[str], ns: str | None = None, check: bool = True, timeout: float = 20, **kw) -> str:
    """Run a command (inside ns) and return stdout."""
    argv = ["ip", "netns", "exec", ns, *cmd] if ns else cmd
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"{argv} -> {proc.returncode}: {proc.stderr}")
    return proc.stdout


def try_sh(cmd: list[str], ns: str, timeout: float = 5) -> tuple[int, str]:
    """Run a command inside ns; return (rc, stdout+stderr) and never raise."""
    try:
        proc = subprocess.run(["ip", "netns", "exec", ns, *cmd], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124, "timeout"
    return proc.returncode, proc.stdout + proc.stderr


class Lab:
    """Namespaces, links and processes one test created; cleanup() removes them all."""

    def __init__(self, tmp: Path, tag: str) -> None:
        self.tmp, self.tag = tmp, tag
        self.netns: list[str] = []
        self.procs: list[subprocess.Popen] = []

    def ns(self, name: str) -> str:
        """Create a namespace (lo up) named with the run's tag."""
        full = f"{self.tag}{name}"
        sh(["ip", "netns", "add", full])
        self.netns.append(full)
        sh(["ip", "link", "set", "lo", "up"], ns=full)
        return full

    def bridge(self, host: str, name: str) -> None:
        """A bridge inside a host namespace."""
        sh(["ip", "link", "add", name, "type", "bridge"], ns=host)
        sh(["ip", "link", "set", name, "up"], ns=host)

    def plug(
        self, host: str, bridge: str, ns: str, mac: str | None = None, addr: str | None = None, gw: str | None = None
    ) -> None:
        """A veth from namespace ns (eth0) into a bridge of the host namespace."""
        leg = f"h{abs(hash(ns)) % 10**9}"[:15]
        sh(["ip", "link", "add", leg, "type", "veth", "peer", "name", "eth0", "netns", ns], ns=host)
        sh(["ip", "link", "set", leg, "master", bridge, "up"], ns=host)
        if mac:
            sh(["ip", "link", "set", "eth0", "address", mac], ns=ns)
        sh(["ip", "link", "set", "eth0", "up"], ns=ns)
        if addr:
            sh(["ip", "addr", "add", addr, "dev", "eth0"], ns=ns)
        if gw:
            sh(["ip", "route", "add", "default", "via", gw], ns=ns)

    def dhcp(self, ns: str) -> list[str]:
        """Run busybox udhcpc once in ns; return [ip, hostname, dns, domain] of the lease."""
        script, out = self.tmp / f"udhcpc-{ns}.sh", self.tmp / f"lease-{ns}"
        script.write_text(UDHCPC_SCRIPT)
        script.chmod(0o755)
        env = {**os.environ, "LEASE_OUT": str(out)}
        sh(
            ["busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "5", "-T", "1", "-s", str(script)],
            ns=ns,
            env=env,
            timeout=30,
        )
        return out.read_text().split()

    def serve(self, ns: str, port: int, body: str | None = None) -> subprocess.Popen:
        """An HTTP server in ns answering `body` (default: `<body or ns> <peer address>`)."""
        code = (
            "import http.server,sys\n"
            "class H(http.server.BaseHTTPRequestHandler):\n"
            "    def do_GET(self):\n"
            f"        b=('{body or ns} '+self.client_address[0]).encode()\n"
            "        self.send_response(200);self.send_header('Content-Length',str(len(b)));self.end_headers()\n"
            "        self.wfile.write(b)\n"
            "    def log_message(self,*a): pass\n"
            f"http.server.ThreadingHTTPServer(('0.0.0.0',{port}),H).serve_forever()\n"
        )
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-c", code],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.procs.append(proc)
        for _ in range(100):
            if f":{port} " in sh(["ss", "-ltn"], ns=ns):
                return proc
            time.sleep(0.05)
        raise AssertionError(f"server on {ns}:{port} did not start")

    def cleanup(self) -> None:
        """Kill our processes and delete our namespaces."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for ns in reversed(self.netns):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def get(ns: str, url: str, headers: dict[str, str] | None = None, timeout: float = 3) -> tuple[int, str]:
    """HTTP GET from inside ns with python (rc 0 and body on success)."""
    hdrs = repr(headers or {})
    code = (
        "import urllib.request,sys\n"
        f"r=urllib.request.Request({url!r},headers={hdrs})\n"
        f"print(urllib.request.urlopen(r,timeout={timeout}).read().decode(),end='')\n"
    )
    return try_sh([sys.executable, "-c", code], ns, timeout=timeout + 5)
