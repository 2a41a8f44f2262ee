"""Global settings (the configuration table): their value types and updateConfiguration's write."""

from __future__ import annotations

import re

from sqlmodel import Session
from virga.errors import InvalidParameter
from virga.models import Configuration
from virga.services.bootstrap import BY_NAME

NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def value_type(c: Configuration) -> str:
    """Number, Boolean or String, from the default value."""
    if NUMBER.match(c.defaultvalue or ""):
        return "Number"
    if (c.defaultvalue or "").lower() in ("true", "false"):
        return "Boolean"
    return "String"


def checked_value(c: Configuration, value: str) -> str:
    """A value of the setting's type (numbers must be numbers, booleans true/false), or 431."""
    kind = value_type(c)
    if kind == "Number":
        if not NUMBER.match(value.strip()):
            raise InvalidParameter(f"Parameter value: {c.name} takes a number, not {value!r}")
        if "factor" in c.name and float(value) <= 0:
            raise InvalidParameter(f"Parameter value: {c.name} must be greater than 0")
        return value.strip()
    if kind == "Boolean":
        if value.strip().lower() not in ("true", "false"):
            raise InvalidParameter(f"Parameter value: {c.name} takes true or false, not {value!r}")
        return value.strip().lower()
    return value


def update_setting(s: Session, c: Configuration, value: str | None) -> Configuration:
    """updateConfiguration: a new value (checked against the setting's type), or the default when None."""
    c.value = c.defaultvalue if value is None else checked_value(c, value)
    s.add(c)
    return c


def scope_of(c: Configuration) -> tuple[str, bool]:
    """The setting's CloudStack scope and whether it is dynamic (a setting virga does not seed: global, dynamic)."""
    known = BY_NAME.get(c.name)
    return (known.scope, known.dynamic) if known is not None else ("global", True)
