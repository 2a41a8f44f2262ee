"""The userdata/metadata/password service of every router of one state dir, in ONE process.

Run as `python -m virga.appliance.router.metadata_server <state_dir>`. For each router
(`<state_dir>/<uuid>/metadata.json`) it opens sockets inside the router's namespace on
<gateway>:80 (CloudStack's /latest/user-data and /latest/meta-data/...) and <gateway>:8080
(the password server: `DomU_Request: send_my_password`, then `saved_password`). SIGHUP
rescans the state dir; `<state_dir>/metadata-hub.json` acknowledges what is being served.
"""

from __future__ import annotations

import hashlib
import json
import os
import selectors
import signal
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from virga.appliance.router.nsenter import netns, netns_id

HUB_STATE = "metadata-hub.json"
HUB_PID = "metadata-hub.pid"
SAVED = "passwords-saved.json"


class Router:
    """One router's data, its listening servers and its forgotten passwords."""

    def __init__(self, rdir: Path, doc: dict[str, Any], digest: str) -> None:
        self.dir, self.doc, self.digest = rdir, doc, digest
        self.ns_id = netns_id(doc["netns"])
        self.servers: list[Server] = []
        self.lock = threading.Lock()
        try:
            self.saved: set[str] = set(json.loads((rdir / SAVED).read_text()))
        except (OSError, ValueError):
            self.saved = set()

    def vm(self, ip: str) -> dict[str, Any] | None:
        """The metadata of the guest at ip."""
        return self.doc["vms"].get(ip)

    def take_password(self, ip: str) -> str:
        """The password of ip unless it was saved already (CloudStack answers `saved_password`)."""
        vm = self.vm(ip)
        pw = vm.get("password") if vm else None
        if not pw or _pw_key(ip, pw) in self.saved:
            return "saved_password"
        return pw

    def forget_password(self, ip: str) -> None:
        """Remember that the guest at ip stored its password; persist it."""
        vm = self.vm(ip)
        pw = vm.get("password") if vm else None
        if pw:
            with self.lock:
                self.saved.add(_pw_key(ip, pw))
                (self.dir / SAVED).write_text(json.dumps(sorted(self.saved)))

    def close(self) -> None:
        """Close the listening sockets."""
        for srv in self.servers:
            srv.server_close()
        self.servers = []


def _pw_key(ip: str, pw: str) -> str:
    """A non-reversible key of one (guest, password) pair."""
    return hashlib.sha256(f"{ip}\0{pw}".encode()).hexdigest()


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """A threaded TCP server bound to one router."""

    daemon_threads = True
    allow_reuse_address = True
    router: Router


class MetadataHandler(BaseHTTPRequestHandler):
    """GET /latest/user-data and /latest/meta-data/<key> for the requesting guest."""

    server: Server

    def do_GET(self) -> None:  # noqa: N802
        """Answer from the requesting guest's metadata."""
        vm = self.server.router.vm(self.client_address[0])
        path = self.path.split("?", 1)[0].rstrip("/")
        if vm is None:
            return self._send(404, "not found")
        if path in ("/latest/user-data", "/latest/userdata"):
            return self._send(200, vm["user-data"])
        if path in ("/latest/meta-data", "/latest/metadata"):
            return self._send(200, "\n".join(sorted(vm["meta-data"])))
        for prefix in ("/latest/meta-data/", "/latest/metadata/"):
            key = path[len(prefix) :] if path.startswith(prefix) else None
            if key in vm["meta-data"]:
                return self._send(200, vm["meta-data"][key])
        return self._send(404, "not found")

    def _send(self, code: int, body: str) -> None:
        """Write a text/plain response."""
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Stay quiet."""


class PasswordHandler(MetadataHandler):
    """CloudStack's password server protocol on port 8080."""

    def do_GET(self) -> None:  # noqa: N802
        """send_my_password returns the password once; saved_password forgets it."""
        ip = self.client_address[0]
        request = (self.headers.get("DomU_Request") or "").strip()
        router = self.server.router
        if request == "send_my_password":
            return self._send(200, router.take_password(ip))
        if request == "saved_password":
            router.forget_password(ip)
            return self._send(200, "saved_password")
        return self._send(400, "bad_request")


class Hub:
    """All routers of a state dir, multiplexed on one selector."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.routers: dict[str, Router] = {}
        self.rescan_flag = threading.Event()
        self.sel = selectors.DefaultSelector()

    def rescan(self) -> None:
        """(Re)open servers for new or changed routers and close those of removed ones."""
        seen = set()
        for meta in sorted(self.state_dir.glob("*/metadata.json")):
            try:
                raw = meta.read_bytes()
                doc = json.loads(raw)
            except (OSError, ValueError):
                continue
            digest, uuid = hashlib.sha256(raw).hexdigest(), doc["network_uuid"]
            seen.add(uuid)
            old = self.routers.get(uuid)
            if old and old.digest == digest and old.ns_id == netns_id(doc["netns"]) and old.servers:
                continue
            if old:
                self._drop(uuid)
            self._open(Router(meta.parent, doc, digest))
        for uuid in set(self.routers) - seen:
            self._drop(uuid)
        self._ack()

    def _open(self, router: Router) -> None:
        """Bind the router's two servers inside its namespace (best effort: it may be going away)."""
        try:
            with netns(router.doc["netns"]):
                for port, handler in ((80, MetadataHandler), (8080, PasswordHandler)):
                    srv = Server((router.doc["gateway"], port), handler)
                    srv.router = router
                    router.servers.append(srv)
        except Exception as exc:  # noqa: BLE001 - report and continue serving the others
            print(f"cannot serve {router.doc['network_uuid']}: {exc}", file=sys.stderr, flush=True)
            router.close()
            return
        for srv in router.servers:
            self.sel.register(srv.socket, selectors.EVENT_READ, srv)
        self.routers[router.doc["network_uuid"]] = router

    def _drop(self, uuid: str) -> None:
        """Stop serving one router."""
        router = self.routers.pop(uuid)
        for srv in router.servers:
            self.sel.unregister(srv.socket)
        router.close()

    def _ack(self) -> None:
        """Publish what is served: uuid -> metadata digest and namespace inode."""
        state = {u: {"digest": r.digest, "ns_id": r.ns_id} for u, r in self.routers.items()}
        tmp = self.state_dir / (HUB_STATE + ".tmp")
        tmp.write_text(json.dumps(state, sort_keys=True))
        os.replace(tmp, self.state_dir / HUB_STATE)

    def serve(self) -> None:
        """Serve forever; rescan on SIGHUP."""
        self.rescan()
        while True:
            if self.rescan_flag.is_set():
                self.rescan_flag.clear()
                self.rescan()
            for key, _ in self.sel.select(timeout=0.05):
                key.data._handle_request_noblock()


def main() -> None:
    """Entry point: serve the routers of argv[1] until SIGTERM."""
    state_dir = Path(sys.argv[1])
    hub = Hub(state_dir)
    signal.signal(signal.SIGHUP, lambda *_: hub.rescan_flag.set())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    (state_dir / HUB_PID).write_text(f"{os.getpid()}\n")
    hub.serve()


if __name__ == "__main__":
    main()
