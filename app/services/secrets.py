"""Secrets at rest: API secret keys and stored credentials are encrypted (Fernet) with a key file kept apart.

The key lives in the config directory (virga.key, mode 0600; VIRGA_KEY_FILE elsewhere, /etc/virga on the
appliance), never in the data directory with the database. Encrypted values are stored as "enc1:<token>";
a value without the prefix (written before revision 0003) is read as it is.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import String, TypeDecorator
from virga.config import config_dir

PREFIX = "enc1:"
# (table, column) of every encrypted column: the migration and the start-up check walk them.
COLUMNS = (("user", "secretkey"), ("host", "password"), ("host", "private_key"), ("virtualmachine", "password"))
_FERNETS: dict[str, Fernet] = {}


class KeyMissing(RuntimeError):
    """The database holds encrypted secrets and the key file that decrypts them is not there."""


def key_path() -> Path:
    """Where the key file is: VIRGA_KEY_FILE, else virga.key in the config directory."""
    return Path(os.environ.get("VIRGA_KEY_FILE") or config_dir() / "virga.key")


def _write_key(path: Path) -> bytes:
    """Create a new key file readable by its owner only (0600 whatever the umask)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Fernet.generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key + b"\n")
    os.chmod(path, 0o600)
    return key


def fernet(*, create: bool = True) -> Fernet:
    """The cipher for the key file (made on first use when `create`), else raise KeyMissing."""
    path = key_path()
    cached = _FERNETS.get(str(path))
    if cached is not None:
        return cached
    try:
        key = path.read_bytes().strip()
    except FileNotFoundError:
        if not create:
            raise KeyMissing(missing_text(path)) from None
        try:
            key = _write_key(path)
        except FileExistsError:  # another process made it first
            key = path.read_bytes().strip()
    _FERNETS[str(path)] = cipher = Fernet(key)
    return cipher


def missing_text(path: Path) -> str:
    """The message virga stops with when the key is gone."""
    return (
        f"virga: the database holds encrypted secrets but the key file {path} is missing. Restore it from your "
        "backup (or point VIRGA_KEY_FILE at it); without it the API secret keys and host passwords cannot be read."
    )


def encrypt(value: str) -> str:
    """Encrypt a secret for storage (already encrypted values are kept)."""
    if value.startswith(PREFIX):
        return value
    return PREFIX + fernet().encrypt(value.encode()).decode()


def decrypt(stored: str) -> str:
    """The clear value of a stored secret (values stored before encryption come back as they are)."""
    if not stored.startswith(PREFIX):
        return stored
    try:
        return fernet(create=False).decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise KeyMissing(f"virga: the key file {key_path()} does not decrypt the database's secrets") from None


class Encrypted(TypeDecorator[str]):
    """A string column stored encrypted; None and "" are stored as they are."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        """Encrypt on the way in."""
        return encrypt(value) if isinstance(value, str) and value else value

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        """Decrypt on the way out."""
        return decrypt(value) if isinstance(value, str) and value else value


def has_encrypted_rows(conn: Any) -> bool:
    """Whether any encrypted column holds an encrypted value (tables not made yet count as empty)."""
    from sqlalchemy import inspect, text

    tables = set(inspect(conn).get_table_names())
    for table, column in COLUMNS:
        if table in tables:
            q = text(f'SELECT 1 FROM "{table}" WHERE "{column}" LIKE :p LIMIT 1')  # noqa: S608  (fixed names)
            if conn.execute(q, {"p": PREFIX + "%"}).first() is not None:
                return True
    return False


def check_key(engine: Any) -> None:
    """At start: refuse (KeyMissing, a clear message) when the key is missing and the database needs it."""
    if key_path().exists():
        fernet(create=False)
        return
    with engine.connect() as conn:
        if has_encrypted_rows(conn):
            raise KeyMissing(missing_text(key_path()))
    fernet(create=True)


def private_sqlite(path: str) -> None:
    """The data directory unreadable by others and the database files 0600, whatever the umask (before SQLite).

    The directory is 0711, not 0700: primary storage and templates may live beneath it (the appliance's
    /var/lib/virga/primary, virga demo --real) and qemu, running as another user, must traverse it. Nobody
    else can list it, and every database file (with its -wal and -shm, which SQLite makes with the main
    file's mode) is 0600.
    """
    from virga.config import data_dir

    db = Path(path)
    made = not db.parent.exists()
    db.parent.mkdir(parents=True, exist_ok=True, mode=0o711)
    if made or db.parent.resolve() == data_dir().resolve():  # never a shared directory given by hand (/tmp)
        os.chmod(db.parent, (stat.S_IMODE(db.parent.stat().st_mode) | 0o711) & ~0o066)
    os.close(os.open(db, os.O_RDWR | os.O_CREAT, 0o600))
    for f in (db, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        if f.exists():
            os.chmod(f, 0o600)
