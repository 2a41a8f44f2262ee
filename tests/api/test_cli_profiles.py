"""Client profiles: the first one added becomes the default; the file stays private."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from virga.cli import profiles
from virga.client import Credentials


@pytest.fixture(autouse=True)
def _config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A private config dir for each test."""
    monkeypatch.setenv("VIRGA_CONFIG_DIR", str(tmp_path / "cfg"))


def test_first_profile_becomes_default() -> None:
    """`virga profile add lab ...` on a fresh machine is then used without --profile."""
    profiles.put("lab", "http://10.0.0.2:8080", Credentials(apikey="k", secretkey="s"))
    url, creds = profiles.get()
    assert (url, creds.apikey) == ("http://10.0.0.2:8080", "k")


def test_second_profile_keeps_default_and_mode() -> None:
    """A later profile does not steal the default unless asked; the file is 0600."""
    profiles.put("lab", "http://a", Credentials(apikey="a"))
    where = profiles.put("other", "http://b", Credentials(apikey="b"))
    assert profiles.get()[0] == "http://a"
    profiles.put("other", "http://b", Credentials(apikey="b"), make_default=True)
    assert profiles.get()[0] == "http://b"
    assert stat.S_IMODE(where.stat().st_mode) == 0o600


def test_unknown_profile_is_a_clear_error() -> None:
    """Asking for a profile that does not exist names it."""
    with pytest.raises(SystemExit, match="no profile 'nope'"):
        profiles.get("nope")
