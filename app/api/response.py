"""Response envelopes: JSON (and XML) in CloudStack's shapes, dates, and error bodies."""

from __future__ import annotations

import json
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


def _xml(name: str, value: Any) -> str:
    """Render one value as XML elements."""
    if isinstance(value, dict):
        return f"<{name}>" + "".join(_xml(k, v) for k, v in value.items()) + f"</{name}>"
    if isinstance(value, list):
        return "".join(_xml(name, v) for v in value)
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{name}>{escape(str(value))}</{name}>"


def to_xml(data: dict[str, Any]) -> bytes:
    """Serialise a response as CloudStack-style XML."""
    ((root, body),) = data.items()
    inner = "".join(_xml(k, v) for k, v in body.items())
    return f'<?xml version="1.0" encoding="UTF-8"?><{root} cloud-stack-version="4.19.0">{inner}</{root}>'.encode()
