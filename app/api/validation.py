"""Input checks the parameter parsers share: Java integer ranges, control characters, map keys."""

from __future__ import annotations

import re

from virga.errors import InvalidParameter

# CloudStack's parameters are Java int, long and short: a value outside these never reaches the database.
RANGES: dict[str, tuple[int, int]] = {
    "short": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "long": (-(2**63), 2**63 - 1),
}
_DIGITS = re.compile(r"[-+]?\d{1,40}")

# Names carry no control character at all; free text may hold tabs and line breaks, nothing else.
_NAME_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
# NUL (PostgreSQL refuses it in text) and lone surrogates (bytes that were not UTF-8) are refused everywhere.
_ALWAYS = re.compile(r"[\x00\ud800-\udfff]")
_NAME_PARAMS = frozenset({"account", "domain", "keypair", "email", "group", "customid", "networkdomain", "keyword"})
_TEXT_PARAMS = frozenset({"displaytext", "description", "displayname", "reason"})
# A map entry's key becomes a field name (an XML element, a JSON key): a letter or _ first, then word characters.
MAP_ENTRY_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def whole_number(raw: object, kind: str, name: str) -> int:
    """Parse a whole number and check it fits the Java type `kind`, or raise 431 naming the parameter."""
    text = str(raw).strip()
    if not _DIGITS.fullmatch(text):
        if re.fullmatch(r"[-+]?\d+", text):
            raise InvalidParameter(_out_of_range(name, kind))
        raise InvalidParameter(f"Unable to parse parameter {name}: {raw!r} is not a whole number")
    value = int(text)
    low, high = RANGES[kind]
    if not low <= value <= high:
        raise InvalidParameter(_out_of_range(name, kind))
    return value


def _out_of_range(name: str, kind: str) -> str:
    """The 431 text for a number outside its Java type."""
    low, high = RANGES[kind]
    return f"Unable to parse parameter {name}: the value is out of range for a {kind} ({low} to {high})"


def check_text(name: str, text: str) -> str:
    """Refuse control characters: any in a name-like parameter, all but tab/CR/LF in free text, NUL anywhere."""
    lowered = name.lower()
    if lowered.endswith("name") or lowered in _NAME_PARAMS:
        bad = _NAME_CONTROL.search(text)
    elif lowered in _TEXT_PARAMS:
        bad = _TEXT_CONTROL.search(text)
    else:
        bad = _ALWAYS.search(text)
    if bad:
        raise InvalidParameter(f"Parameter {lowered} holds a control character ({ord(bad.group()):#04x}), not allowed")
    return text


def check_map_entry(param: str, key: str, value: str) -> None:
    """A map entry's key must be a field name (letter or _ first); its value holds no NUL."""
    if not MAP_ENTRY_KEY.fullmatch(key):
        raise InvalidParameter(f"Invalid key {key!r} in parameter {param}: a key starts with a letter or _")
    bad = _ALWAYS.search(value)
    if bad:
        raise InvalidParameter(
            f"Parameter {param}.{key} holds a control character ({ord(bad.group()):#04x}), not allowed"
        )
