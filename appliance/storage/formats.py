"""Image format detection: qemu-img info plus an ISO 9660 probe; refuses files that lie about their format."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import FormatMismatch, ToolError
from .tools import qemu_img_info, run

ISO_MAGIC_OFFSETS = (0x8001, 0x8801, 0x9001)
_ALIASES = {"vhd": "vpc", "ova": "vmdk", "img": "raw"}


@dataclass(frozen=True)
class ImageInfo:
    """What a file really is."""

    fmt: str
    virtual_size: int
    actual_size: int


def is_iso9660(path: str) -> bool:
    """True when the file carries an ISO 9660 volume descriptor ('CD001')."""
    with open(path, "rb") as f:
        for off in ISO_MAGIC_OFFSETS:
            f.seek(off)
            if f.read(5) == b"CD001":
                return True
    return False


async def detect(path: str) -> ImageInfo:
    """Probe a local file: its format ('iso' for ISO 9660), virtual and actual size."""
    try:
        info = await qemu_img_info(path)
    except ToolError as exc:
        raise FormatMismatch(f"not a readable disk image: {exc}") from exc
    fmt = str(info.get("format", "raw"))
    if info.get("backing-filename") or info.get("full-backing-filename"):
        raise FormatMismatch("image refers to a backing file; templates must be self-contained")
    data_file = (info.get("format-specific") or {}).get("data", {}).get("data-file")
    if data_file:
        raise FormatMismatch("image uses an external data file; templates must be self-contained")
    if fmt == "raw" and is_iso9660(path):
        fmt = "iso"
    return ImageInfo(fmt, int(info.get("virtual-size", 0)), int(info.get("actual-size", 0)))


async def verify_format(path: str, expected: str | None) -> ImageInfo:
    """Detect the format and raise FormatMismatch unless it is the expected one (None accepts any)."""
    info = await detect(path)
    if expected is None:
        return info
    want = _ALIASES.get(expected.lower(), expected.lower())
    if info.fmt != want:
        shown = "raw data (not a disk image or ISO)" if info.fmt == "raw" else info.fmt
        raise FormatMismatch(f"file claims to be {expected} but is {shown}")
    if want == "qcow2":
        try:
            await run("qemu-img", "check", "-f", "qcow2", path, timeout=600)
        except ToolError as exc:
            raise FormatMismatch(f"qcow2 image is corrupt: {exc}") from exc
    return info
