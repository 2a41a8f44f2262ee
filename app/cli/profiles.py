"""Client profiles: which server (empty URL = embedded) and which API keys, in the config dir (0600)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from virga.client import Credentials
from virga.config import config_dir


def path() -> Path:
    """The credentials file."""
    return config_dir() / "credentials.json"


def load() -> dict[str, Any]:
    """All profiles ({} when none)."""
    p = path()
    if not p.exists():
        return {"default": "default", "profiles": {}}
    data: dict[str, Any] = json.loads(p.read_text())
    return data


def save(data: dict[str, Any]) -> Path:
    """Write the profiles with mode 0600."""
    p = path()
    p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = p.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
    os.chmod(tmp, 0o600)
    tmp.replace(p)
    return p


def put(name: str, url: str, creds: Credentials, make_default: bool = False) -> Path:
    """Add or replace a profile."""
    data = load()
    profs = data.setdefault("profiles", {})
    if make_default or data.get("default") not in profs:  # the first real profile becomes the default
        data["default"] = name
    profs[name] = {
        "url": url,
        "apikey": creds.apikey,
        "secretkey": creds.secretkey,
        "username": creds.username,
        "password": creds.password,
        **({"cafile": creds.cafile} if creds.cafile else {}),
        **({"fingerprint": creds.fingerprint} if creds.fingerprint else {}),
    }
    return save(data)


def get(name: str | None = None) -> tuple[str, Credentials]:
    """The URL and credentials of a profile (the default one when name is None)."""
    data = load()
    name = name or data.get("default") or "default"
    prof = data.get("profiles", {}).get(name)
    if prof is None:
        raise SystemExit(
            f"virga: no profile {name!r}; run `virga init` (embedded) or "
            f"`virga profile add {name} URL APIKEY SECRETKEY`"
        )
    return prof.get("url", ""), Credentials(
        apikey=prof.get("apikey", ""),
        secretkey=prof.get("secretkey", ""),
        username=prof.get("username", ""),
        password=prof.get("password", ""),
        cafile=prof.get("cafile", ""),
        fingerprint=prof.get("fingerprint", ""),
    )
