"""A small local HTTP file server for storage tests and benchmarks: Range, ETag, and misbehaviours on demand.

Paths: /<name> serves a file; query options: stall_after=N (send N bytes, then hang), cut_after=N (send N bytes
of a full-length response, then close), rate=B (bytes per second), no_range=1 (ignore Range).
"""

from __future__ import annotations

import argparse
import os
import socket
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class FileHandler(BaseHTTPRequestHandler):
    """Serves files from server.root with Range support and injected failures."""

    protocol_version = "HTTP/1.1"
    server: FileServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Quiet."""

    def do_GET(self) -> None:  # noqa: N802
        """Serve one file (or a misbehaviour)."""
        parts = urlsplit(self.path)
        opts = {k: v[0] for k, v in parse_qs(parts.query).items()}
        path = os.path.join(self.server.root, parts.path.lstrip("/"))
        self.server.requests.append((parts.path, self.headers.get("Range")))
        if not os.path.isfile(path):
            self.send_error(404)
            return
        size = os.path.getsize(path)
        start = self._range_start(size) if "no_range" not in opts else None
        if start is not None and start >= size:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(206 if start is not None else 200)
        begin = start or 0
        if start is not None:
            self.send_header("Content-Range", f"bytes {begin}-{size - 1}/{size}")
        st = os.stat(path)
        self.send_header("Content-Length", str(size - begin))
        self.send_header("ETag", f'"{st.st_ino:x}-{st.st_size:x}-{int(st.st_mtime):x}"')
        self.send_header("Last-Modified", formatdate(st.st_mtime, usegmt=True))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self._send(path, begin, size, opts)

    def _range_start(self, size: int) -> int | None:
        """Start of a 'bytes=N-' Range header, else None."""
        value = self.headers.get("Range", "")
        if value.startswith("bytes=") and value.endswith("-"):
            try:
                return int(value[6:-1])
            except ValueError:
                return None
        return None

    def _send(self, path: str, begin: int, size: int, opts: dict[str, str]) -> None:
        """Write the body, honouring stall_after/cut_after/rate."""
        limit = size - begin
        for key in ("stall_after", "cut_after"):
            if key in opts:
                limit = min(limit, int(opts[key]))
        rate = int(opts.get("rate", "0"))
        self.wfile.flush()
        sock = self.connection
        with open(path, "rb") as f:
            sent, pos = 0, begin
            while sent < limit:
                step = min(limit - sent, rate // 10 if rate else 1 << 22)
                try:
                    n = os.sendfile(sock.fileno(), f.fileno(), pos, step)
                except (BrokenPipeError, ConnectionResetError):
                    return
                if n == 0:
                    return
                sent, pos = sent + n, pos + n
                if rate:
                    time.sleep(0.1)
        if "stall_after" in opts:
            self._hang(sock)
        if "cut_after" in opts:
            sock.shutdown(socket.SHUT_RDWR)
            self.close_connection = True

    def _hang(self, sock: socket.socket) -> None:
        """Keep the connection open without sending, until the client gives up or the server stops."""
        sock.settimeout(0.2)
        while not self.server.stopping.is_set():
            try:
                if sock.recv(1) == b"":
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        self.close_connection = True


class FileServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with a root directory and a request log."""

    daemon_threads = True

    def __init__(self, root: str, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), FileHandler)
        self.root = root
        self.requests: list[tuple[str, str | None]] = []
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:<port>."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> FileServer:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.stopping.set()
        self.shutdown()
        self.server_close()


def main() -> None:
    """Run as a separate process (benchmarks): prints the port, serves until killed."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    args = ap.parse_args()
    srv = FileServer(args.root)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
