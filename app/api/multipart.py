"""A streaming multipart/form-data reader: yields one file field's bytes without buffering the whole body."""

from __future__ import annotations

from collections.abc import AsyncIterator

from virga.errors import InvalidParameter

_HEADER_LIMIT = 16 << 10


def boundary_of(content_type: str) -> bytes:
    """The boundary of a multipart/form-data Content-Type; InvalidParameter otherwise."""
    kind, _, rest = content_type.partition(";")
    if kind.strip().lower() != "multipart/form-data":
        raise InvalidParameter(f"expected a multipart/form-data body, got {kind.strip() or 'no content type'}")
    for item in rest.split(";"):
        key, _, value = item.strip().partition("=")
        if key.lower() == "boundary" and value:
            return value.strip('"').encode()
    raise InvalidParameter("multipart/form-data body without a boundary")


def _field_name(headers: bytes) -> str:
    """The name= of a part's Content-Disposition header."""
    for line in headers.decode("latin-1").split("\r\n"):
        key, _, value = line.partition(":")
        if key.strip().lower() == "content-disposition":
            for item in value.split(";"):
                k, _, v = item.strip().partition("=")
                if k.lower() == "name":
                    return v.strip('"')
    return ""


class _Reader:
    """Buffered access to an async byte stream."""

    def __init__(self, stream: AsyncIterator[bytes]) -> None:
        self.stream, self.buf, self.eof = stream, bytearray(), False

    async def fill(self) -> bool:
        """Read one more chunk; False at the end of the stream."""
        if self.eof:
            return False
        try:
            self.buf += await anext(self.stream)
        except StopAsyncIteration:
            self.eof = True
        return not self.eof

    async def until(self, marker: bytes, limit: int) -> bytes:
        """Consume and return the bytes before marker (the marker is consumed too)."""
        while (at := self.buf.find(marker)) < 0:
            if len(self.buf) > limit or not await self.fill():
                raise InvalidParameter("malformed multipart body (a part boundary or header is missing)")
        out = bytes(self.buf[:at])
        del self.buf[: at + len(marker)]
        return out


async def file_field(stream: AsyncIterator[bytes], boundary: bytes, name: str = "file") -> AsyncIterator[bytes]:
    """Yield the content of the form field `name`, skipping other fields; InvalidParameter when it is absent."""
    r = _Reader(stream)
    delim = b"\r\n--" + boundary
    r.buf += b"\r\n"  # the first boundary has no leading CRLF
    await r.until(delim, _HEADER_LIMIT)
    while True:
        while len(r.buf) < 2 and await r.fill():
            pass
        if r.buf[:2] == b"--":
            raise InvalidParameter(f"the multipart body has no field named {name!r}")
        headers = await r.until(b"\r\n\r\n", _HEADER_LIMIT)
        wanted = _field_name(headers.removeprefix(b"\r\n")) == name
        async for data in _part(r, delim):
            if wanted:
                yield data
        if wanted:
            return


async def _part(r: _Reader, delim: bytes) -> AsyncIterator[bytes]:
    """Yield a part's body up to the next delimiter (which is consumed)."""
    keep = len(delim) - 1
    while True:
        at = r.buf.find(delim)
        if at >= 0:
            if at:
                yield bytes(r.buf[:at])
            del r.buf[: at + len(delim)]
            return
        if len(r.buf) > keep:
            out = bytes(r.buf[:-keep])
            del r.buf[:-keep]
            yield out
        if not await r.fill():
            raise InvalidParameter("the multipart body ended before its closing boundary (upload cut off?)")
