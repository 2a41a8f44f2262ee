"""Parameter checks shared by command modules: each raises 431 naming the parameter."""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlmodel import select
from virga.context import Ctx
from virga.errors import InvalidParameter


def unique_name(ctx: Ctx, model: Any, name: str, what: str, **scope: Any) -> None:
    """Refuse (431) a second live row of a model with the same name within a scope."""
    stmt = select(model).where(model.name == name, model.removed == None)
    for key, value in scope.items():
        stmt = stmt.where(getattr(model, key) == value)
    if ctx.db.exec(stmt).first() is not None:
        raise InvalidParameter(f"A {what} named {name} already exists (parameter name)")


def ipv4(value: str | None, param: str) -> ipaddress.IPv4Address | None:
    """Parse an optional IPv4 address, or raise 431 naming the parameter."""
    if not value:
        return None
    try:
        return ipaddress.IPv4Address(value)
    except ValueError:
        raise InvalidParameter(f"Parameter {param}: {value!r} is not a valid IPv4 address") from None


def one_of(value: str | None, allowed: tuple[str, ...], param: str) -> str | None:
    """Match a value case-insensitively against allowed spellings; 431 naming the parameter."""
    if value is None:
        return None
    for item in allowed:
        if item.lower() == value.lower():
            return item
    raise InvalidParameter(f"Parameter {param} must be one of {', '.join(allowed)}, not {value!r}")


def positive(value: int | None, param: str, *, zero_ok: bool = False) -> int | None:
    """A number that must be positive (or zero); 431 naming the parameter."""
    if value is not None and (value < 0 or (value == 0 and not zero_ok)):
        raise InvalidParameter(f"Parameter {param} must be {'zero or more' if zero_ok else 'positive'}")
    return value


def tag_list(value: str | None) -> str:
    """Normalise a comma-separated tag list."""
    return ",".join(t.strip() for t in (value or "").split(",") if t.strip())
