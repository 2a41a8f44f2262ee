"""Translate vSphere faults and socket errors into virga's typed driver errors."""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
from collections.abc import Iterator

from pyVmomi import vim, vmodl
from virga.drivers.base import (
    AuthenticationFailed,
    DriverError,
    HostUnreachable,
    InstanceNotFound,
    InvalidSpec,
    NotSupported,
)

UNSUPPORTED = "not supported by the VMware hypervisor"


def _fault_text(fault: vmodl.MethodFault) -> str:
    """The fault's own message, or its type name when it has none."""
    msg = getattr(fault, "msg", "") or ""
    if not msg and getattr(fault, "faultMessage", None):
        msg = "; ".join(str(m.message) for m in fault.faultMessage if getattr(m, "message", ""))
    return msg or type(fault).__name__.rsplit(".", 1)[-1]


def _power_text(fault: vim.fault.InvalidPowerState, what: str) -> str:
    """A clear sentence for InvalidPowerState (e.g. powering off a VM that is off)."""
    state = getattr(fault, "existingState", "") or "in another power state"
    wanted = getattr(fault, "requestedState", "")
    tail = f" (the operation needs it {wanted})" if wanted else ""
    return f"{what} failed: the virtual machine is already {state}{tail}"


def translate_fault(fault: BaseException, what: str) -> DriverError:
    """Map one vSphere fault to the matching typed driver error."""
    if isinstance(fault, DriverError):
        return fault
    if isinstance(fault, vim.fault.InvalidLogin):
        return AuthenticationFailed(f"{what} failed: the vSphere server rejected the user name or password")
    if isinstance(fault, vim.fault.InvalidPowerState):
        return DriverError(_power_text(fault, what))
    if isinstance(fault, vmodl.fault.ManagedObjectNotFound):
        return InstanceNotFound(f"{what} failed: the object no longer exists on the vSphere server")
    if isinstance(fault, (vmodl.fault.NotSupported, vmodl.fault.NotImplemented)):
        return NotSupported(f"{what} is {UNSUPPORTED}: {_fault_text(fault)}")
    if isinstance(fault, (vmodl.fault.InvalidArgument, vim.fault.InvalidDatastorePath, vim.fault.DuplicateName)):
        return InvalidSpec(f"{what} failed: {_fault_text(fault)}")
    if isinstance(fault, vim.fault.FileNotFound):
        return DriverError(f"{what} failed: file {getattr(fault, 'file', '')} not found")
    if isinstance(fault, vim.fault.NoPermission):
        return AuthenticationFailed(f"{what} failed: the vSphere user lacks privilege {fault.privilegeId}")
    if isinstance(fault, vmodl.MethodFault):
        return DriverError(f"{what} failed: {_fault_text(fault)}")
    return _os_error(fault, what)


def _os_error(exc: BaseException, what: str) -> DriverError:
    """Map transport errors (refused, timeout, TLS) to HostUnreachable."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return HostUnreachable(
            f"{what} failed: the server's TLS certificate could not be verified ({exc.verify_message}); "
            "trust its CA or set the host option verify_ssl=false"
        )
    if isinstance(exc, ssl.SSLError):
        return HostUnreachable(f"{what} failed: TLS error talking to the vSphere server: {exc}")
    if isinstance(exc, ConnectionRefusedError):
        return HostUnreachable(f"{what} failed: the vSphere server refused the connection")
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return HostUnreachable(f"{what} failed: the vSphere server did not answer in time")
    if isinstance(exc, (OSError, http.client.HTTPException)):
        return HostUnreachable(f"{what} failed: cannot reach the vSphere server: {exc}")
    return DriverError(f"{what} failed: {exc}")


@contextlib.contextmanager
def faults(what: str) -> Iterator[None]:
    """Re-raise any vSphere or socket error inside the block as a typed driver error."""
    try:
        yield
    except DriverError:
        raise
    except (vmodl.MethodFault, OSError, http.client.HTTPException) as exc:
        raise translate_fault(exc, what) from exc
