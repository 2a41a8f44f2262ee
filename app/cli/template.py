"""`virga template|iso|volume upload FILE [key=value...]`: getUploadParamsFor*, then a signed multipart POST."""

from __future__ import annotations

import hashlib
import os
import sys
import time
from pathlib import Path
from typing import IO, Any, cast
from urllib.parse import urlsplit

from virga.client import ApiError, VirgaClient

FORMAT_BY_EXT = {".qcow2": "QCOW2", ".img": "RAW", ".raw": "RAW", ".vhd": "VHD", ".vhdx": "VHDX", ".ova": "OVA"}
CHUNK = 1 << 20
BAR = 30


class Bar:
    """A text progress bar on a stream (stderr), redrawn at most ten times a second."""

    def __init__(self, label: str, total: int, out: IO[str] = sys.stderr) -> None:
        self.label, self.total, self.out, self.done, self.last = label, max(total, 1), out, 0, 0.0

    def advance(self, n: int) -> None:
        """Count n more bytes and redraw when due."""
        self.done += n
        now = time.monotonic()
        if now - self.last >= 0.1 or self.done >= self.total:
            self.last = now
            self.out.write(f"\r{render_bar(self.label, self.done, self.total)}")
            self.out.flush()

    def finish(self) -> None:
        """End the bar's line."""
        self.out.write("\n")
        self.out.flush()


def render_bar(label: str, done: int, total: int) -> str:
    """One progress line: label [#####.....] 45% 12.0/26.7 MiB (pure)."""
    frac = min(1.0, done / total) if total else 1.0
    filled = int(frac * BAR)
    return (
        f"{label} [{'#' * filled}{'.' * (BAR - filled)}] {int(frac * 100):3d}% "
        f"{done / 2**20:.1f}/{total / 2**20:.1f} MiB"
    )


class _Counting:
    """A read-only file wrapper feeding a progress bar as httpx reads it."""

    def __init__(self, f: IO[bytes], bar: Bar) -> None:
        self.f, self.bar = f, bar

    def read(self, n: int = -1) -> bytes:
        """Read and count."""
        data = self.f.read(CHUNK if n is None or n < 0 else n)
        self.bar.advance(len(data))
        return data

    def __getattr__(self, name: str) -> Any:
        """Everything else (seek, tell, name...) from the file."""
        return getattr(self.f, name)


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while data := f.read(CHUNK):
            h.update(data)
    return h.hexdigest()


UPLOADS = {  # kind -> (getUploadParams command, list command, list item, list filter)
    "template": ("getUploadParamsForTemplate", "listTemplates", "template", {"templatefilter": "self"}),
    "iso": ("getUploadParamsForIso", "listIsos", "iso", {"isofilter": "self"}),
    "volume": ("getUploadParamsForVolume", "listVolumes", "volume", {}),
}


async def _defaults(client: VirgaClient, path: Path, params: dict[str, Any], kind: str = "template") -> dict[str, Any]:
    """name, displaytext, format, hypervisor, zoneid and checksum unless given (what the kind of upload takes)."""
    out = dict(params)
    out.setdefault("name", path.stem)
    if kind != "volume":
        out.setdefault("displaytext", out["name"])
    if kind == "template":
        out.setdefault("hypervisor", "KVM")
    if "format" not in out and kind != "iso":
        fmt = FORMAT_BY_EXT.get(path.suffix.lower())
        if fmt is None:
            raise SystemExit(f"virga: cannot tell the format of {path.name}; add format=QCOW2|RAW|VHD|OVA")
        out["format"] = fmt
    if "zoneid" not in out:
        zones = await client.list("listZones", "zone")
        if len(zones) != 1:
            raise SystemExit(
                f"virga: {len(zones)} zones; add zoneid=<id>" + (" (or -1 for all)" if kind != "volume" else "")
            )
        out["zoneid"] = zones[0]["id"]
    out.setdefault("checksum", "{SHA-256}" + sha256_of(path))
    return out


async def upload(
    client: VirgaClient, file: str, params: dict[str, Any], *, quiet: bool = False, kind: str = "template"
) -> dict[str, Any]:
    """Upload a local file as a template, ISO or volume; return the object once the upload is stored."""
    path = Path(file)
    if not path.is_file():
        raise SystemExit(f"virga: {file}: no such file")
    command, lister, item, flt = UPLOADS[kind]
    up = (await client.call(command, **await _defaults(client, path, params, kind)))["getuploadparams"]
    bar = Bar(f"upload {path.name}", os.path.getsize(path), open(os.devnull, "w") if quiet else sys.stderr)
    headers = {"X-signature": up["signature"], "X-metadata": up["metadata"], "X-expires": up["expires"]}
    with open(path, "rb") as f:
        resp = await client.http.post(
            urlsplit(up["postURL"]).path,
            headers=headers,
            timeout=None,
            files={"file": (path.name, cast(IO[bytes], _Counting(f, bar)), "application/octet-stream")},
        )
    bar.finish()
    if resp.status_code != 200:
        try:
            text = resp.json().get("errortext", resp.text)
        except ValueError:
            text = resp.text
        raise ApiError(resp.status_code, text, "upload")
    found = await client.list(lister, item, id=up["id"], **flt)
    return found[0] if found else {"id": up["id"]}


async def cmd_template(args: Any, client: VirgaClient) -> int:
    """Run `virga template|iso|volume upload FILE ...`."""
    from virga.cli.main import parse_params
    from virga.cli.output import show

    kind = args.cmd if args.cmd in UPLOADS else "template"
    try:
        got = await upload(client, args.file, parse_params(args.params), kind=kind)
    except ApiError as err:
        print(f"Error {err.code}: {err.text}", file=sys.stderr)
        return 1
    show({UPLOADS[kind][2]: got})
    return 0
