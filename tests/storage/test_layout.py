"""Pure parts: layout paths, template.properties, checksums, URL parsing, ganesha config rendering."""

from __future__ import annotations

import pytest
from virga.appliance.storage import InvalidChecksum, StorageError, parse_checksum
from virga.appliance.storage.ganesha import GaneshaConfig, GaneshaSettings, render_config
from virga.appliance.storage.imagestore import parse_nfs_url
from virga.appliance.storage.layout import (
    TemplateProperties,
    iso_path,
    normalize,
    parse_properties,
    render_properties,
    snapshot_path,
    template_path,
)


def test_layout_paths() -> None:
    assert template_path(2, 201, "abc", "qcow2") == "template/tmpl/2/201/abc.qcow2"
    assert iso_path(2, 7, "u1") == "iso/2/7/u1.iso"
    assert snapshot_path("2", "9", "s1") == "snapshots/2/9/s1.qcow2"
    with pytest.raises(StorageError):
        template_path("..", 1, "x", "qcow2")
    with pytest.raises(StorageError):
        normalize("a/../b")


def test_properties_roundtrip() -> None:
    p = TemplateProperties(id="201", uuid="abc", filename="abc.qcow2", fmt="qcow2", size=10, virtual_size=20)
    parsed = parse_properties(render_properties(p))
    assert parsed["qcow2.filename"] == "abc.qcow2"
    assert parsed["virtualsize"] == "20"
    assert parsed["qcow2"] == "true"


@pytest.mark.parametrize(
    ("text", "algo"),
    [
        ("d41d8cd98f00b204e9800998ecf8427e", "md5"),
        ("{MD5}d41d8cd98f00b204e9800998ecf8427e", "md5"),
        ("a" * 40, "sha1"),
        ("{SHA-256}" + "B" * 64, "sha256"),
        ("c" * 128, "sha512"),
    ],
)
def test_checksum_forms(text: str, algo: str) -> None:
    ck = parse_checksum(text)
    assert ck is not None and ck.algorithm == algo and ck.hexdigest == ck.hexdigest.lower()


@pytest.mark.parametrize("text", ["xyz", "a" * 33, "{SHA-256}" + "a" * 40, "{CRC}" + "a" * 8])
def test_checksum_invalid(text: str) -> None:
    with pytest.raises(InvalidChecksum):
        parse_checksum(text)


def test_checksum_empty_means_none() -> None:
    assert parse_checksum(None) is None and parse_checksum("  ") is None


def test_nfs_url() -> None:
    assert parse_nfs_url("nfs://10.0.0.1/export/secondary/") == ("10.0.0.1", "/export/secondary")
    for bad in ("http://x/y", "nfs:///nohost", "nfs://h:2049/x", "nfs://h/x?version=4"):
        with pytest.raises(StorageError):
            parse_nfs_url(bad)


def test_ganesha_config_render() -> None:
    text = render_config(GaneshaConfig(GaneshaSettings("10.1.2.3", recovery_root="/r"), ["/srv/a", "/srv/b"]))
    assert "Bind_addr = 10.1.2.3;" in text
    assert 'Path = "/srv/b";' in text and "Export_Id = 2;" in text
    assert "Squash = No_Root_Squash;" in text
