"""Translate libvirt errors into the driver contract's typed exceptions."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import libvirt
from virga.drivers.base import (
    AuthenticationFailed,
    DriverError,
    HostUnreachable,
    InstanceNotFound,
    InvalidSpec,
    NotSupported,
)

P = ParamSpec("P")
R = TypeVar("R")

_BY_CODE: dict[int, type[DriverError]] = {
    libvirt.VIR_ERR_NO_DOMAIN: InstanceNotFound,
    libvirt.VIR_ERR_NO_SUPPORT: NotSupported,
    libvirt.VIR_ERR_OPERATION_UNSUPPORTED: NotSupported,
    libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED: NotSupported,
    libvirt.VIR_ERR_AUTH_FAILED: AuthenticationFailed,
    libvirt.VIR_ERR_AUTH_CANCELLED: AuthenticationFailed,
    libvirt.VIR_ERR_NO_CONNECT: HostUnreachable,
    libvirt.VIR_ERR_SYSTEM_ERROR: HostUnreachable,
    libvirt.VIR_ERR_RPC: HostUnreachable,
    libvirt.VIR_ERR_XML_ERROR: InvalidSpec,
    libvirt.VIR_ERR_XML_DETAIL: InvalidSpec,
    libvirt.VIR_ERR_CONFIG_UNSUPPORTED: InvalidSpec,
}


def translate(err: libvirt.libvirtError, what: str = "") -> DriverError:
    """The typed error matching a libvirt error."""
    cls = _BY_CODE.get(err.get_error_code(), DriverError)
    if cls is HostUnreachable and err.get_error_domain() not in (
        libvirt.VIR_FROM_REMOTE,
        libvirt.VIR_FROM_RPC,
        libvirt.VIR_FROM_SSH,
        libvirt.VIR_FROM_NONE,
    ):
        cls = DriverError
    msg = err.get_error_message() or str(err)
    return cls(f"{what}: {msg}" if what else msg)


def wrapped(what: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a blocking function so libvirt errors come out typed."""

    def deco(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def inner(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except libvirt.libvirtError as err:
                raise translate(err, what) from err

        return inner

    return deco
