"""Checksums as CloudStack accepts them: bare hex (algorithm from length) or '{SHA-256}hex'."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from .errors import InvalidChecksum

_BY_LENGTH = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}
_BY_NAME = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA1": "sha1",
    "SHA-224": "sha224",
    "SHA-256": "sha256",
    "SHA256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
    "SHA512": "sha512",
}
_FORM = re.compile(r"^(?:\{(?P<algo>[A-Za-z0-9-]+)\})?(?P<hex>[0-9A-Fa-f]+)$")


@dataclass(frozen=True)
class Checksum:
    """An expected digest: hashlib algorithm name and lowercase hex."""

    algorithm: str
    hexdigest: str

    def new(self) -> hashlib._Hash:
        """A fresh hashlib object for this algorithm."""
        return hashlib.new(self.algorithm)

    def __str__(self) -> str:
        """CloudStack's prefixed form, e.g. {SHA-256}abc..."""
        name = {v: k for k, v in _BY_NAME.items() if "-" in k or k == "MD5"}[self.algorithm]
        return f"{{{name}}}{self.hexdigest}"


def parse_checksum(text: str | None) -> Checksum | None:
    """Parse a checksum string; None/'' means no check; InvalidChecksum when malformed."""
    if text is None or not text.strip():
        return None
    m = _FORM.match(text.strip())
    if not m:
        raise InvalidChecksum(f"checksum {text!r} is neither hex nor {{ALGO}}hex")
    hexpart = m.group("hex").lower()
    if m.group("algo"):
        algo = _BY_NAME.get(m.group("algo").upper())
        if algo is None:
            raise InvalidChecksum(f"unknown checksum algorithm {m.group('algo')!r}")
        width = hashlib.new(algo).digest_size * 2
        if len(hexpart) != width:
            raise InvalidChecksum(f"{m.group('algo')} checksum must have {width} hex digits")
        return Checksum(algo, hexpart)
    algo = _BY_LENGTH.get(len(hexpart))
    if algo is None:
        raise InvalidChecksum(f"checksum of {len(hexpart)} hex digits matches no md5/sha1/sha256/sha512")
    return Checksum(algo, hexpart)


def file_digest(path: str, algorithm: str, chunk: int = 4 << 20) -> str:
    """Hex digest of a local file."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while data := f.read(chunk):
            h.update(data)
    return h.hexdigest()
