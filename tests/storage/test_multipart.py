"""The streaming multipart reader against bodies cut at every possible place."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import httpx
import pytest
from virga.api.multipart import boundary_of, file_field
from virga.errors import InvalidParameter


def _body(payload: bytes, other_first: bool = True) -> tuple[bytes, str]:
    """A multipart body as httpx encodes it, with its content type."""
    data = {"note": "x" * 50} if other_first else {}
    req = httpx.Request("POST", "http://x/", data=data, files={"file": ("f.bin", payload)})
    return req.read(), req.headers["content-type"]


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    """data in pieces of `size` bytes."""
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def _read(data: bytes, ctype: str, size: int) -> bytes:
    """The file field's content read through the streaming reader."""
    return b"".join([c async for c in file_field(_chunks(data, size), boundary_of(ctype))])


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 1000, 1 << 20])
async def test_file_field_any_chunking(size: int) -> None:
    payload = os.urandom(5000) + b"\r\n--" + b"\r\n" * 3
    body, ctype = _body(payload)
    assert await _read(body, ctype, size) == payload


async def test_missing_field_and_truncated_body() -> None:
    body, ctype = _body(b"abc")
    with pytest.raises(InvalidParameter):
        await _read(body.replace(b'name="file"', b'name="other"'), ctype, 10)
    with pytest.raises(InvalidParameter):
        await _read(body[:-20], ctype, 10)
    with pytest.raises(InvalidParameter):
        boundary_of("application/octet-stream")
