"""Turn an addHost URL and credentials into a driver connection (hypervisor-specific setup hooks)."""

from __future__ import annotations

import importlib
from urllib.parse import urlparse

from virga.drivers.base import AuthenticationFailed, DriverError, HostConnection
from virga.errors import InvalidParameter, Unavailable
from virga.models import Host

# Hypervisor -> "module:function" preparing a host reached by a plain http:// or ssh:// URL.
SETUP_HOOKS = {"kvm": "virga.drivers.libvirt.remote:prepare_from_addhost"}


async def prepare_host(host: Host, conn: HostConnection) -> HostConnection:
    """Run the hypervisor's setup hook for URLs that need one; otherwise use the URL as given."""
    scheme = urlparse(conn.url).scheme
    hook = SETUP_HOOKS.get(host.hypervisor.lower())
    if hook is None or scheme not in ("http", "https", "ssh"):
        return conn
    module, func = hook.split(":")
    fn = getattr(importlib.import_module(module), func)
    try:
        result: HostConnection = await fn(conn)
    except AuthenticationFailed as exc:
        raise InvalidParameter(f"Unable to add the host: wrong credentials ({exc})") from None
    except DriverError as exc:
        raise Unavailable(f"Unable to add the host {conn.url}: {exc}") from None
    return result
