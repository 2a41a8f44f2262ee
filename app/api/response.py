"""Response envelopes: JSON (and XML) in CloudStack's shapes, dates, and error bodies."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from virga.errors import CloudError


def cs_date(value: datetime | None) -> str | None:
    """Format a UTC datetime like 2026-04-13T09:42:21+0000."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S+0000")


def clean(obj: dict[str, Any]) -> dict[str, Any]:
    """Drop null fields (CloudStack omits them) and format dates."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if value is None:
            continue
        if isinstance(value, datetime):
            value = cs_date(value)
        out[key] = value
    return out


def list_body(item: str, items: list[dict[str, Any]], count: int) -> dict[str, Any]:
    """A list response: {count, item: [...]}, or {} when empty."""
    if count == 0 and not items:
        return {}
    return {"count": count, item: items}


def envelope(command: str, body: dict[str, Any]) -> dict[str, Any]:
    """Wrap a body as {"<command>response": body}."""
    return {f"{command.lower()}response": body}


def error_body(command: str | None, err: CloudError) -> dict[str, Any]:
    """The error envelope for a command (or errorresponse when the command is unknown)."""
    body = {"uuidList": err.uuids, "errorcode": err.code, "cserrorcode": err.cserrorcode, "errortext": err.text}
    name = f"{command.lower()}response" if command else "errorresponse"
    return {name: body}


def to_json(data: dict[str, Any]) -> bytes:
    """Serialise a response as compact JSON."""
    return json.dumps(data, separators=(",", ":"), default=str).encode()


# What XML 1.0 allows in character data, and a safe element name: anything stored renders well-formed.
_XML_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_XML_NAME_BAD = re.compile(r"[^A-Za-z0-9_.-]")


def xml_text(value: str) -> str:
    """Escape character data, dropping the characters XML 1.0 forbids (NUL, most controls, lone surrogates)."""
    return escape(_XML_FORBIDDEN.sub("", value))


def xml_name(name: str) -> str:
    """An element name for a field: kept when it is a valid XML name, else made one (bad characters -> _)."""
    if _XML_NAME.fullmatch(name):
        return name
    fixed = _XML_NAME_BAD.sub("_", name)
    return fixed if _XML_NAME.fullmatch(fixed) else f"_{fixed}"


def _xml(name: str, value: Any) -> str:
    """Render one value as XML elements."""
    if isinstance(value, list):
        return "".join(_xml(name, v) for v in value)
    tag = xml_name(name)
    if isinstance(value, dict):
        return f"<{tag}>" + "".join(_xml(k, v) for k, v in value.items()) + f"</{tag}>"
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{tag}>{xml_text(str(value))}</{tag}>"


def to_xml(data: dict[str, Any]) -> bytes:
    """Serialise a response as CloudStack-style XML (always well-formed, whatever the values hold)."""
    ((root, body),) = data.items()
    inner = "".join(_xml(k, v) for k, v in body.items())
    root = xml_name(root)
    head = f'<?xml version="1.0" encoding="UTF-8"?><{root} cloud-stack-version="4.19.0">'
    return f"{head}{inner}</{root}>".encode("utf-8", "replace")
