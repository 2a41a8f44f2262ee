"""Where virga keeps its data and configuration, and the settings read from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def data_dir() -> Path:
    """The directory holding the embedded database and runtime state."""
    base = os.environ.get("VIRGA_DATA_DIR") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "virga"
    )
    return Path(base)


def config_dir() -> Path:
    """The directory holding credentials and client profiles."""
    base = os.environ.get("VIRGA_CONFIG_DIR") or os.path.join(
        os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config"), "virga"
    )
    return Path(base)


def default_db_url() -> str:
    """The database URL: VIRGA_DB_URL, else SQLite in the data directory."""
    return os.environ.get("VIRGA_DB_URL") or f"sqlite:///{data_dir() / 'virga.db'}"


@dataclass
class Settings:
    """Runtime settings of one management server."""

    db_url: str = field(default_factory=default_db_url)
    workers: int = int(os.environ.get("VIRGA_JOB_WORKERS", "64"))
    server_name: str = os.environ.get("VIRGA_SERVER_NAME", "") or os.uname().nodename
    simulator_state: str | None = None
    sync_interval: float = float(os.environ.get("VIRGA_SYNC_INTERVAL", "30"))
    # An external router supervisor (python -m virga.appliance.router) heals this host's routers:
    # the server's own router health loop stays off so that the two never repair the same router.
    router_supervisor: bool = os.environ.get("VIRGA_ROUTER_SUPERVISOR", "").lower() in ("1", "yes", "true")
