"""A blocking pyvmomi session: login, property retrieval and task waiting (run in threads)."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim, vmodl
from virga.drivers.base import DriverError, HostConnection, InvalidSpec
from virga.drivers.vmware.errors import faults, translate_fault

ProgressCallback = Callable[[str, int], None]
TASK_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class Endpoint:
    """Where and how to log in, parsed from a HostConnection."""

    host: str
    port: int
    user: str
    password: str
    verify: bool
    timeout: int
    ca_file: str = ""


def endpoint(conn: HostConnection) -> Endpoint:
    """Parse the connection URL (https://host[:port][/sdk]) and its options."""
    url = urlparse(conn.url if "://" in conn.url else f"https://{conn.url}")
    if not url.hostname:
        raise InvalidSpec(f"vSphere URL {conn.url!r} has no host name")
    verify = str(conn.options.get("verify_ssl", "true")).lower() not in {"false", "0", "no", "off"}
    return Endpoint(
        host=url.hostname,
        port=url.port or 443,
        user=conn.username or url.username or "",
        password=conn.password or url.password or "",
        verify=verify,
        timeout=int(conn.options.get("timeout", "30")),
        ca_file=str(conn.options.get("ca_file", "")),
    )


def _ssl_context(ep: Endpoint) -> ssl.SSLContext:
    """A client TLS context: verifying (against ca_file when given) by default, unverified only when asked."""
    if ep.verify:
        try:
            return ssl.create_default_context(cafile=ep.ca_file or None)
        except (OSError, ssl.SSLError) as err:
            raise InvalidSpec(f"ca_file {ep.ca_file!r} is not a readable PEM CA bundle: {err}") from None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Session:
    """One logged-in service instance with helpers the driver calls from worker threads."""

    def __init__(self, ep: Endpoint) -> None:
        """Log in at once; raises typed errors for refused, untrusted or rejected logins."""
        self.ep = ep
        context = _ssl_context(ep)
        with faults(f"logging in to vSphere at {ep.host}:{ep.port}"):
            self.si = SmartConnect(
                host=ep.host,
                port=ep.port,
                user=ep.user,
                pwd=ep.password,
                sslContext=context,
                httpConnectionTimeout=ep.timeout,
            )
        self.content = self.si.RetrieveContent()

    def close(self) -> None:
        """Log out; errors on the way out are ignored."""
        try:
            Disconnect(self.si)
        except Exception:  # noqa: BLE001 - best-effort logout
            pass

    @property
    def is_vcenter(self) -> bool:
        """Whether the endpoint is a vCenter (VirtualCenter) rather than one ESXi host."""
        return self.content.about.apiType == "VirtualCenter"

    def retrieve(self, root: vim.ManagedEntity, kind: type, props: Sequence[str]) -> list[dict[str, Any]]:
        """Properties of every object of a type under a container, as dicts with '_obj'."""
        view = self.content.viewManager.CreateContainerView(root, [kind], True)
        try:
            spec = vmodl.query.PropertyCollector.FilterSpec(
                objectSet=[
                    vmodl.query.PropertyCollector.ObjectSpec(
                        obj=view,
                        skip=True,
                        selectSet=[
                            vmodl.query.PropertyCollector.TraversalSpec(
                                name="view", path="view", skip=False, type=vim.view.ContainerView
                            )
                        ],
                    )
                ],
                propSet=[vmodl.query.PropertyCollector.PropertySpec(type=kind, pathSet=list(props))],
            )
            return self._collect(spec)
        finally:
            view.DestroyView()

    def props(self, obj: Any, props: Sequence[str]) -> dict[str, Any]:
        """Selected properties of one object (unset ones are absent from the dict)."""
        spec = vmodl.query.PropertyCollector.FilterSpec(
            objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=obj, skip=False)],
            propSet=[vmodl.query.PropertyCollector.PropertySpec(type=type(obj), pathSet=list(props))],
        )
        rows = self._collect(spec)
        return rows[0] if rows else {"_obj": obj}

    def _collect(self, spec: vmodl.query.PropertyCollector.FilterSpec) -> list[dict[str, Any]]:
        """Run RetrievePropertiesEx, following continuation tokens."""
        pc = self.content.propertyCollector
        opts = vmodl.query.PropertyCollector.RetrieveOptions()
        result = pc.RetrievePropertiesEx([spec], opts)
        rows: list[dict[str, Any]] = []
        while result is not None:
            for oc in result.objects:
                row: dict[str, Any] = {p.name: p.val for p in oc.propSet or ()}
                row["_obj"] = oc.obj
                rows.append(row)
            result = pc.ContinueRetrievePropertiesEx(result.token) if result.token else None
        return rows

    def wait(
        self, task: vim.Task, what: str, progress: ProgressCallback | None = None, ignore: tuple[type, ...] = ()
    ) -> Any:
        """Wait for a task, reporting progress; return its result or raise its typed error.

        Faults of a type in `ignore` end the wait quietly (returning None).
        """
        last = -1
        while True:
            row = self.props(task, ["info.state", "info.progress", "info.result", "info.error"])
            state = row.get("info.state")
            if state is None:
                raise DriverError(f"{what} failed: the task vanished")
            pct = 100 if state == "success" else int(row.get("info.progress") or 0)
            if progress is not None and pct != last:
                progress(what, pct)
                last = pct
            if state == "success":
                return row.get("info.result")
            if state == "error":
                error = row.get("info.error")
                if isinstance(error, ignore):
                    return None
                if not isinstance(error, BaseException):
                    raise DriverError(f"{what} failed: the task gave no fault")
                raise translate_fault(error, what)
            time.sleep(TASK_POLL_SECONDS)
