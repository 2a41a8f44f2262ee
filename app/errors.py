"""Typed errors that carry a CloudStack error code; the API turns them into error envelopes."""

from __future__ import annotations

CS_ERROR_CODES = {
    401: 9999,
    431: 4350,
    432: 9999,
    530: 4250,
    531: 4365,
    532: 4370,
    533: 4360,
    534: 4375,
    535: 4355,
    536: 4380,
    537: 4390,
}


class CloudError(Exception):
    """An error with a CloudStack error code (HTTP status) and text."""

    code = 530

    def __init__(self, text: str, code: int | None = None, uuids: list[str] | None = None) -> None:
        """Keep the text, the code and the uuids the error is about."""
        super().__init__(text)
        self.text = text
        if code is not None:
            self.code = code
        self.uuids = uuids or []

    @property
    def cserrorcode(self) -> int:
        """CloudStack's internal exception code for this error code."""
        return CS_ERROR_CODES.get(self.code, 9999)


class AuthError(CloudError):
    """Bad credentials or signature (401)."""

    code = 401


class InvalidParameter(CloudError):
    """A missing, unknown or malformed parameter, or an invalid request (431)."""

    code = 431


class UnknownCommand(CloudError):
    """The command does not exist (432)."""

    code = 432


class Unsupported(CloudError):
    """The hypervisor (driver) cannot do what is asked: "not supported by this hypervisor" (432)."""

    code = 432


class InternalError(CloudError):
    """Something failed inside virga or a hypervisor (530)."""

    code = 530


class PermissionDenied(CloudError):
    """The caller's account may not do this (531)."""

    code = 531


class LimitExceeded(CloudError):
    """An account or domain resource limit would be exceeded (532)."""

    code = 532


class InsufficientCapacity(CloudError):
    """No host, pool or IP has room (533)."""

    code = 533


class Unavailable(CloudError):
    """A resource needed is unavailable (534)."""

    code = 534


class AllocationError(CloudError):
    """Allocation of a resource failed (535)."""

    code = 535


class InUse(CloudError):
    """The resource is in use and cannot be changed or removed (536)."""

    code = 536


class RuleConflict(CloudError):
    """A network rule conflicts with an existing one (537)."""

    code = 537
