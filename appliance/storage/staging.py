"""The local staging area: partial downloads plus a small JSON state file, so a restarted server can resume."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

DEFAULT_STAGING = "/var/lib/virga/staging"


def staging_root(staging_dir: str | os.PathLike[str] | None) -> Path:
    """The staging directory (argument, $VIRGA_STAGING, or /var/lib/virga/staging), created if missing."""
    root = Path(staging_dir or os.environ.get("VIRGA_STAGING") or DEFAULT_STAGING)
    root.mkdir(parents=True, exist_ok=True)
    return root


@dataclass
class TransferState:
    """What we know about a partial transfer, persisted beside the partial file."""

    url: str
    dest_path: str
    etag: str | None = None
    last_modified: str | None = None
    total: int | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Staged:
    """The partial data file and the state file of one transfer."""

    part: Path
    state: Path

    @classmethod
    def for_transfer(cls, root: Path, url: str, dest_path: str) -> Staged:
        """Deterministic file names from (url, dest_path), so a retry finds the same partial file."""
        key = hashlib.sha256(f"{url}\0{dest_path}".encode()).hexdigest()[:24]
        return cls(root / f"{key}.part", root / f"{key}.json")

    def load(self, url: str, dest_path: str) -> TransferState | None:
        """The saved state if it belongs to this transfer and the partial file exists."""
        try:
            data = json.loads(self.state.read_text())
            st = TransferState(**data)
        except (OSError, ValueError, TypeError):
            return None
        if st.url != url or st.dest_path != dest_path or not self.part.exists():
            return None
        return st

    def save(self, st: TransferState) -> None:
        """Write the state file atomically."""
        tmp = self.state.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(asdict(st)))
        os.replace(tmp, self.state)

    def discard(self) -> None:
        """Remove the partial file and the state file."""
        for p in (self.part, self.state, self.state.with_suffix(".json.tmp")):
            try:
                p.unlink()
            except FileNotFoundError:
                pass

    @property
    def offset(self) -> int:
        """Bytes already in the partial file."""
        try:
            return self.part.stat().st_size
        except FileNotFoundError:
            return 0


def discard_staging(url: str, dest_path: str, staging_dir: str | None = None) -> None:
    """Drop a transfer's partial file and state (for a job that is failed rather than resumed)."""
    Staged.for_transfer(staging_root(staging_dir), url, dest_path).discard()
