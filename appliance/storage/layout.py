"""The image store's directory layout (pure): where templates, ISOs, snapshots and volumes live."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import StorageError

_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
FORMAT_EXT = {"qcow2": "qcow2", "raw": "img", "vhd": "vhd", "vmdk": "ova", "iso": "iso", "vpc": "vhd"}
PROPERTIES = "template.properties"


def _part(value: object, what: str) -> str:
    """One path component, refusing anything that could escape the layout."""
    text = str(value)
    if not _SAFE.match(text) or text in (".", ".."):
        raise StorageError(f"invalid {what} for a store path: {text!r}")
    return text


def ext_for(fmt: str) -> str:
    """File extension used on the store for an image format."""
    try:
        return FORMAT_EXT[fmt.lower()]
    except KeyError:
        raise StorageError(f"unsupported image format {fmt!r} (known: {', '.join(sorted(FORMAT_EXT))})") from None


def template_dir(account_id: object, template_id: object) -> str:
    """template/tmpl/<account id>/<template id>."""
    return f"template/tmpl/{_part(account_id, 'account id')}/{_part(template_id, 'template id')}"


def template_path(account_id: object, template_id: object, uuid: str, fmt: str) -> str:
    """template/tmpl/<account id>/<template id>/<uuid>.<ext>."""
    return f"{template_dir(account_id, template_id)}/{_part(uuid, 'uuid')}.{ext_for(fmt)}"


def iso_dir(account_id: object, iso_id: object) -> str:
    """iso/<account id>/<iso id>."""
    return f"iso/{_part(account_id, 'account id')}/{_part(iso_id, 'iso id')}"


def iso_path(account_id: object, iso_id: object, uuid: str) -> str:
    """iso/<account id>/<iso id>/<uuid>.iso."""
    return f"{iso_dir(account_id, iso_id)}/{_part(uuid, 'uuid')}.iso"


def snapshot_path(account_id: object, volume_id: object, uuid: str) -> str:
    """snapshots/<account id>/<volume id>/<uuid>.qcow2."""
    return f"snapshots/{_part(account_id, 'account id')}/{_part(volume_id, 'volume id')}/{_part(uuid, 'uuid')}.qcow2"


def volume_path(account_id: object, volume_id: object, uuid: str, fmt: str) -> str:
    """volumes/<account id>/<volume id>/<uuid>.<ext> (uploaded or extracted volumes)."""
    base = f"volumes/{_part(account_id, 'account id')}/{_part(volume_id, 'volume id')}"
    return f"{base}/{_part(uuid, 'uuid')}.{ext_for(fmt)}"


def normalize(path: str) -> str:
    """A store-relative path with no leading slash, refusing '..' and empty components."""
    parts = [p for p in path.strip("/").split("/")]
    if not parts or any(p in ("", ".", "..") for p in parts):
        raise StorageError(f"invalid store path {path!r}")
    return "/".join(parts)


@dataclass(frozen=True)
class TemplateProperties:
    """What template.properties records beside a template or ISO file."""

    id: str
    uuid: str
    filename: str
    fmt: str
    size: int
    virtual_size: int
    checksum: str = ""
    description: str = ""
    public: bool = True
    hvm: bool = True


def render_properties(p: TemplateProperties) -> str:
    """template.properties text (CloudStack's key=value form)."""
    lines = {
        "filename": p.filename,
        "id": p.id,
        "uniquename": p.uuid,
        "description": p.description,
        "checksum": p.checksum,
        "public": str(p.public).lower(),
        "hvm": str(p.hvm).lower(),
        "size": str(p.size),
        "virtualsize": str(p.virtual_size),
        p.fmt: "true",
        f"{p.fmt}.filename": p.filename,
        f"{p.fmt}.size": str(p.size),
        f"{p.fmt}.virtualsize": str(p.virtual_size),
    }
    return "".join(f"{k}={v}\n" for k, v in lines.items())


def parse_properties(text: str) -> Mapping[str, str]:
    """key=value lines of a template.properties into a dict (comments and blanks ignored)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out
