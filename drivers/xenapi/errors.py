"""Translate XenAPI failures and transport errors into the driver contract's typed errors."""

from __future__ import annotations

import socket
import ssl
import xmlrpc.client
from collections.abc import Sequence

from virga.drivers.base import (
    AuthenticationFailed,
    DriverError,
    HostUnreachable,
    InstanceNotFound,
    InvalidSpec,
)

EXPLAIN = {
    "SESSION_AUTHENTICATION_FAILED": "the pool master rejected the username or password",
    "HANDLE_INVALID": "the object no longer exists",
    "UUID_INVALID": "no object has that uuid",
    "VM_BAD_POWER_STATE": "the VM is in the wrong power state for this operation",
    "VM_IS_TEMPLATE": "the operation cannot be applied to a template",
    "VDI_IN_USE": "the disk is in use by a running VM",
    "SR_FULL": "the storage repository has no room left",
    "HOST_OFFLINE": "the host is offline",
    "VM_MIGRATE_FAILED": "the live migration failed",
    "DEVICE_ALREADY_ATTACHED": "the device is already attached",
    "DEVICE_ALREADY_DETACHED": "the device is already detached",
    "DEVICE_ALREADY_EXISTS": "a device already uses that position",
    "MEMORY_CONSTRAINT_VIOLATION": "the memory limits are inconsistent",
    "TASK_CANCELLED": "the task was cancelled",
    "VM_SHUTDOWN_TIMEOUT": "the guest did not shut down in time",
}
NOT_FOUND = {"HANDLE_INVALID", "UUID_INVALID"}
UNREACHABLE = {"HOST_OFFLINE", "HOST_STILL_BOOTING", "HOST_HAS_NO_MANAGEMENT_IP"}
BAD_SPEC = {"MEMORY_CONSTRAINT_VIOLATION", "VALUE_NOT_SUPPORTED", "SR_FULL", "FIELD_TYPE_ERROR"}


def describe(details: Sequence[object]) -> str:
    """A readable message carrying the XenAPI error code, an explanation and the raw parameters."""
    code = str(details[0]) if details else "UNKNOWN_ERROR"
    params = [str(p) for p in details[1:]]
    if code == "VM_BAD_POWER_STATE" and len(params) >= 3:
        return f"XenAPI VM_BAD_POWER_STATE: the VM is {params[2]} but the operation needs it {params[1]}"
    text = EXPLAIN.get(code, "the XenAPI call failed")
    return f"XenAPI {code}: {text}" + (f" ({', '.join(params)})" if params else "")


def from_failure(details: Sequence[object]) -> DriverError:
    """The typed driver error for a XenAPI ErrorDescription list."""
    code = str(details[0]) if details else ""
    message = describe(details)
    if code == "SESSION_AUTHENTICATION_FAILED":
        return AuthenticationFailed(message)
    if code in NOT_FOUND:
        return InstanceNotFound(message)
    if code in UNREACHABLE:
        return HostUnreachable(message)
    if code in BAD_SPEC:
        return InvalidSpec(message)
    return DriverError(message)


def from_transport(url: str, err: BaseException) -> DriverError:
    """The typed driver error for a failure below XenAPI (socket, TLS, HTTP, XML-RPC fault)."""
    if isinstance(err, ssl.SSLCertVerificationError):
        return HostUnreachable(
            f"TLS certificate of {url} could not be verified ({err.verify_message}); trust it with the ca_file "
            "option or set verify_ssl=false to skip verification"
        )
    if isinstance(err, ssl.SSLError):
        return HostUnreachable(f"TLS handshake with {url} failed: {err}")
    if isinstance(err, (socket.timeout, TimeoutError)):
        return HostUnreachable(f"XenServer at {url} did not answer in time")
    if isinstance(err, OSError):
        return HostUnreachable(f"cannot reach XenServer at {url}: {err.strerror or err}")
    if isinstance(err, xmlrpc.client.ProtocolError):
        return HostUnreachable(f"XenServer at {url} answered HTTP {err.errcode} {err.errmsg}")
    if isinstance(err, xmlrpc.client.Fault):
        return DriverError(f"XenAPI fault from {url}: {err.faultString}")
    return DriverError(f"XenAPI call to {url} failed: {err!r}")
