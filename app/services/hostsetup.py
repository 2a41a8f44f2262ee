"""Turn an addHost URL and credentials into a driver connection (hypervisor-specific setup hooks)."""

from __future__ import annotations

from urllib.parse import urlparse

from virga import plugins
from virga.drivers.base import AuthenticationFailed, DriverError, HostConnection
from virga.errors import InvalidParameter, Unavailable
from virga.models import Host


async def prepare_host(host: Host, conn: HostConnection) -> HostConnection:
    """Run the hypervisor's setup hook (entry-point group virga.host_setup) for URLs that need one.

    A host reached by a plain http://, https:// or ssh:// URL needs one; other URLs are used as given.
    """
    scheme = urlparse(conn.url).scheme
    if plugins.find(plugins.HOST_SETUP, host.hypervisor) is None or scheme not in ("http", "https", "ssh"):
        return conn
    fn = plugins.load(plugins.HOST_SETUP, host.hypervisor)
    try:
        result: HostConnection = await fn(conn)
    except AuthenticationFailed as exc:
        raise InvalidParameter(f"Unable to add the host: wrong credentials ({exc})") from None
    except DriverError as exc:
        raise Unavailable(f"Unable to add the host {conn.url}: {exc}") from None
    return result
