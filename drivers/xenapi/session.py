"""A thread-safe XenAPI session to a pool master: TLS policy, login, following master changes."""

from __future__ import annotations

import http.client
import ssl
import threading
import xmlrpc.client
from typing import Any
from urllib.parse import urlencode, urljoin, urlparse

import XenAPI
from virga.drivers.base import DriverError, HostConnection
from virga.drivers.xenapi.errors import from_failure, from_transport

API_VERSION = "2.21"
ORIGINATOR = "virga"
MAX_HOPS = 3


def _truthy(value: str | None, default: bool) -> bool:
    """Parse a yes/no option."""
    if value is None:
        return default
    return value.strip().lower() not in ("false", "0", "no", "off")


def normalize(url: str) -> str:
    """A XenAPI endpoint URL: https unless told otherwise, with a trailing slash."""
    if "://" not in url:
        url = f"https://{url}"
    parsed = urlparse(url)
    scheme = "http" if parsed.scheme == "http" else "https"
    return f"{scheme}://{parsed.netloc}/"


def master_url(current: str, address: str) -> str:
    """The URL of the master named by HOST_IS_SLAVE (keeping scheme, and port unless one is named)."""
    parsed = urlparse(current)
    if ":" in address and not address.startswith("["):
        return f"{parsed.scheme}://{address}/"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{address}{port}/"


class _Timeouts:
    """Mixin giving xmlrpc transports a socket timeout."""

    timeout = 30.0

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        """Open the HTTP connection with the configured timeout."""
        conn = super().make_connection(host)  # type: ignore[misc]
        conn.timeout = self.timeout
        return conn


class _Transport(_Timeouts, xmlrpc.client.Transport):
    """Plain HTTP transport with a timeout."""


class _SafeTransport(_Timeouts, xmlrpc.client.SafeTransport):  # type: ignore[misc]
    """HTTPS transport with a timeout and our TLS context."""


class XapiSession:
    """One logged-in XenAPI session; calls are serialized (the XML-RPC transport is not thread-safe)."""

    def __init__(self, conn: HostConnection, timeout: float | None = None) -> None:
        """Read the URL, credentials and TLS options; nothing is contacted yet."""
        self.conn = conn
        self.url = normalize(conn.url)
        self.verify = _truthy(conn.options.get("verify_ssl"), True)
        self.ca_file = conn.options.get("ca_file") or None
        self.timeout = timeout or float(conn.options.get("timeout", "30"))
        self._lock = threading.Lock()
        self._session: XenAPI.Session | None = None

    def _tls(self) -> ssl.SSLContext:
        """The client TLS context: verified (against ca_file when given) unless verify_ssl=false."""
        if self.verify:
            return ssl.create_default_context(cafile=self.ca_file)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def _transport(self, url: str) -> xmlrpc.client.Transport:
        """The transport for a URL: TLS verified unless verify_ssl=false."""
        if url.startswith("https"):
            transport: xmlrpc.client.Transport = _SafeTransport(context=self._tls())
        else:
            transport = _Transport()
        transport.timeout = self.timeout  # type: ignore[attr-defined]
        return transport

    def _login(self) -> None:
        """Log in, following HOST_IS_SLAVE to the master it names."""
        for _ in range(MAX_HOPS):
            session = XenAPI.Session(self.url, transport=self._transport(self.url))
            try:
                session.xenapi.login_with_password(
                    self.conn.username or "", self.conn.password or "", API_VERSION, ORIGINATOR
                )
            except XenAPI.Failure as err:
                if err.details and err.details[0] == "HOST_IS_SLAVE":
                    self.url = master_url(self.url, str(err.details[1]))
                    continue
                raise from_failure(err.details) from None
            except Exception as err:  # noqa: BLE001 - socket/TLS/HTTP errors become typed errors
                raise from_transport(self.url, err) from err
            self._session = session
            return
        raise DriverError(f"XenAPI HOST_IS_SLAVE: no pool master found after {MAX_HOPS} redirections")

    def login(self) -> None:
        """Open the session (again)."""
        with self._lock:
            self._login()

    def call(self, method: str, *args: Any) -> Any:
        """Call a XenAPI method such as "VM.get_record" (blocking); re-login to a new master if it moved."""
        with self._lock:
            for attempt in range(2):
                if self._session is None:
                    self._login()
                fn: Any = self._session.xenapi  # type: ignore[union-attr]
                for part in method.split("."):
                    fn = getattr(fn, part)
                try:
                    return fn(*args)
                except XenAPI.Failure as err:
                    if err.details and err.details[0] == "HOST_IS_SLAVE" and attempt == 0:
                        self.url = master_url(self.url, str(err.details[1]))
                        self._session = None
                        continue
                    raise from_failure(err.details) from None
                except DriverError:
                    raise
                except Exception as err:  # noqa: BLE001 - transport errors become typed errors
                    raise from_transport(self.url, err) from err
        raise DriverError(f"XenAPI {method}: the pool master moved twice during one call")

    def fetch(self, path: str, **query: str) -> bytes:
        """GET one of XAPI's HTTP handlers (such as /vm_rrd) with this session's id, following redirects."""
        with self._lock:
            if self._session is None:
                self._login()
            sid, base = str(self._session._session), self.url  # type: ignore[union-attr]
        target = f"{base.rstrip('/')}{path}?{urlencode({'session_id': sid, **query})}"
        for _ in range(MAX_HOPS):
            status, location, body = self._get(target)
            if status in (301, 302, 303, 307) and location:
                target = urljoin(target, location)
                continue
            if status != 200:
                raise DriverError(f"XenServer {path} answered HTTP {status}: {body[:200].decode(errors='replace')}")
            return body
        raise DriverError(f"XenServer {path}: too many redirections")

    def _get(self, url: str) -> tuple[int, str, bytes]:
        """One HTTP(S) GET: status, Location header and body (transport errors become typed errors)."""
        parsed = urlparse(url)
        conn: http.client.HTTPConnection
        if parsed.scheme == "https":
            conn = http.client.HTTPSConnection(
                parsed.hostname or "", parsed.port, timeout=self.timeout, context=self._tls()
            )
        else:
            conn = http.client.HTTPConnection(parsed.hostname or "", parsed.port, timeout=self.timeout)
        try:
            conn.request("GET", f"{parsed.path}?{parsed.query}")
            resp = conn.getresponse()
            return resp.status, resp.getheader("Location") or "", resp.read()
        except Exception as err:  # noqa: BLE001 - socket/TLS errors become typed errors
            raise from_transport(url, err) from err
        finally:
            conn.close()

    def logout(self) -> None:
        """Close the session; errors are ignored (the master may be gone)."""
        with self._lock:
            session, self._session = self._session, None
        if session is not None:
            try:
                session.xenapi.session.logout()
            except Exception:  # noqa: BLE001 - logging out of a dead master is not an error
                pass
