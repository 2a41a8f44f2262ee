"""The fake XAPI endpoint: XML-RPC over HTTP(S) on loopback, in a thread, as a master or a slave."""

from __future__ import annotations

import socketserver
import ssl
import threading
from typing import Any
from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer

import tests.fakes.xapi.devices  # noqa: F401  (registers the VDI/VBD/VIF calls)
import tests.fakes.xapi.vm  # noqa: F401  (registers the VM calls)
from tests.fakes.xapi import rrd
from tests.fakes.xapi.api import invoke, run_async
from tests.fakes.xapi.db import Database, XapiError, new_ref
from tests.fakes.xapi.seed import populate


class _Server(socketserver.ThreadingMixIn, SimpleXMLRPCServer):
    """A threaded XML-RPC server so that event.from long-polls do not block other calls."""

    daemon_threads = True
    allow_reuse_address = True


class _Handler(SimpleXMLRPCRequestHandler):
    """XAPI answers XML-RPC on / (and on /RPC2 for good measure) and statistics on GET /vm_rrd."""

    rpc_paths = ("/", "/RPC2")

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        """Serve the HTTP handlers (statistics) next to XML-RPC."""
        path, _, query = self.path.partition("?")
        status, body = rrd.answer(self.server.fake.db, path, query)  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Type", "text/xml" if status == 200 else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class FakeXapi:
    """One XAPI endpoint over a (possibly shared) pool database."""

    def __init__(
        self, db: Database | None = None, *, tls: tuple[str, str] | None = None, master_address: str | None = None
    ) -> None:
        """Serve db (a fresh seeded pool when None); tls=(certfile, keyfile); master_address makes it a slave."""
        if db is None:
            db = Database()
            populate(db)
        self.db = db
        self.master_address = master_address
        self.calls: list[str] = []
        self._server = _Server(("127.0.0.1", 0), requestHandler=_Handler, logRequests=False, allow_none=True)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
        self._server.register_instance(self)
        self._server.fake = self  # type: ignore[attr-defined]
        self.scheme = "https" if tls else "http"
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The TCP port the endpoint listens on."""
        return int(self._server.server_address[1])

    @property
    def address(self) -> str:
        """host:port, as a HOST_IS_SLAVE error would name this endpoint."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The URL clients connect to."""
        return f"{self.scheme}://{self.address}/"

    def start(self) -> FakeXapi:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-xapi-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeXapi:
        """Start on entering a with block."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop on leaving a with block."""
        self.stop()

    # --- XML-RPC ----------------------------------------------------------------
    def _dispatch(self, method: str, params: tuple[Any, ...]) -> dict[str, Any]:
        """Wrap every answer in XAPI's Status/Value or Status/ErrorDescription struct."""
        self.calls.append(method)
        try:
            return {"Status": "Success", "Value": self._call(method, list(params))}
        except XapiError as err:
            return {"Status": "Failure", "ErrorDescription": err.description}
        except Exception as err:  # noqa: BLE001 - every crash becomes INTERNAL_ERROR, as in xapi
            return {"Status": "Failure", "ErrorDescription": ["INTERNAL_ERROR", repr(err)]}

    def _call(self, method: str, params: list[Any]) -> Any:
        """Check role and session, then run the call (Async.* behind a task)."""
        if self.master_address is not None:
            raise XapiError("HOST_IS_SLAVE", self.master_address)
        if method == "session.login_with_password":
            return self._login(params)
        if not params or params[0] not in self.db.sessions:
            raise XapiError("SESSION_INVALID", str(params[0]) if params else "")
        if method == "session.logout":
            self.db.sessions.pop(params[0], None)
            return ""
        if method.startswith("Async."):
            return run_async(self.db, method[len("Async.") :], params[1:])
        return invoke(self.db, method, params[1:])

    def _login(self, params: list[Any]) -> str:
        """Check the username and password and open a session."""
        if len(params) < 2:
            raise XapiError("MESSAGE_PARAMETER_COUNT_MISMATCH", "session.login_with_password", "2", str(len(params)))
        user, password = params[0], params[1]
        if self.db.users.get(user) != password or not password:
            raise XapiError("SESSION_AUTHENTICATION_FAILED", user, "Authentication failure")
        ref = new_ref()
        self.db.sessions[ref] = user
        return ref
