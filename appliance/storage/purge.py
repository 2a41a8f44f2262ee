"""Removing a deleted template's files: its folder on the image store and its cached copies (pools, image cache)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .cache import cache_root
from .imagestore import ImageStore
from .layout import PROPERTIES, normalize, parse_properties


def store_folder(install_path: str, store: ImageStore) -> str:
    """The store-relative folder holding a template's file and template.properties (refuses the store root)."""
    prefix = store.url.rstrip("/") + "/"
    if not install_path.startswith(prefix):
        raise ValueError(f"{install_path} is not on the image store {store.url}")
    folder = normalize(install_path[len(prefix) :]).rpartition("/")[0]
    if folder.count("/") < 2:  # template/tmpl/<account>/<id> or iso/<account>/<id>: never a top folder
        raise ValueError(f"{install_path} is not in a template's own folder on the store")
    return folder


async def purge_from_store(store: ImageStore, install_path: str) -> str:
    """Delete a template's image and its template.properties from the store, then the folder once empty.

    Only this template's own files go: a folder shared with another image (ids reused by a new database
    over an old store) keeps that image. Missing files are fine. Returns the folder.
    """
    folder = store_folder(install_path, store)
    name = install_path.rpartition("/")[2]
    await store.delete(f"{folder}/{name}", missing_ok=True)
    props = f"{folder}/{PROPERTIES}"
    if await store.exists(props) and parse_properties((await store.read_bytes(props)).decode()).get("filename") == name:
        await store.delete(props, missing_ok=True)
    if await store.exists(folder) and not await store.list(folder):
        await store.delete(folder, missing_ok=True)
    return folder


def cached_copies(install_path: str, template_uuid: str, pool_dirs: list[str], *, image_cache: bool) -> list[Path]:
    """Local copies of a store image that exist now: per-pool base images, and the image cache entry if asked."""
    stem = Path(install_path).stem
    key = hashlib.sha256(install_path.encode()).hexdigest()[:32]
    found = [cache_root() / f"{key}.qcow2"] if image_cache else []
    for pool in pool_dirs:
        found += [Path(pool) / f"{stem}.qcow2", *Path(pool).glob(f"virga-template-{template_uuid}.*")]
    return [p for p in found if p.is_file()]


def drop_cached(paths: list[Path]) -> list[str]:
    """Remove cached copies (and their lock files); the names removed."""
    gone = []
    for p in paths:
        try:
            os.unlink(p)
        except FileNotFoundError:
            continue
        gone.append(str(p))
        (p.parent / f".{p.stem}.lock").unlink(missing_ok=True)
    return gone
