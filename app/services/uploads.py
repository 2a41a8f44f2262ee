"""Uploads of template/ISO files (getUploadParamsForTemplate + POST) and signed download URLs (extractTemplate)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from sqlmodel import Session, select
from virga.errors import InternalError, InvalidParameter, PermissionDenied
from virga.models import Template
from virga.models.misc import Configuration
from virga.services.templates import dest_of, store_of, update

if TYPE_CHECKING:
    from virga.core import VirgaApp

KEY_SETTING = "upload.signing.key"
ENDPOINT_SETTING = "endpoint.url"
DEFAULT_ENDPOINT = "http://localhost:8080/client/api"
AWAITING = "NotUploaded"
UPLOAD_TTL = 3600
EXTRACT_TTL = 4 * 3600


def signing_key(s: Session) -> bytes:
    """The server's upload/download signing key (made on first use, kept as a setting only root admins see)."""
    row = s.get(Configuration, KEY_SETTING)
    if row is None:
        row = Configuration(name=KEY_SETTING, value=secrets.token_hex(32), category="Hidden",
                            description="HMAC key signing upload and download URLs")
        s.add(row)
        s.flush()
    return row.value.encode()


def base_url(s: Session) -> str:
    """The public base URL of this server (the endpoint.url setting without /client/api)."""
    row = s.get(Configuration, ENDPOINT_SETTING)
    url = (row.value if row is not None and row.value else DEFAULT_ENDPOINT).rstrip("/")
    return url.removesuffix("/client/api")


def _mac(key: bytes, *parts: str) -> str:
    """Hex HMAC-SHA256 over parts joined by newlines."""
    return hmac.new(key, "\n".join(parts).encode(), hashlib.sha256).hexdigest()


def expires_text(epoch: float) -> str:
    """An expiry time as CloudStack dates are written (yyyy-MM-dd'T'HH:mm:ss+0000)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def upload_params(s: Session, t: Template, kind: str = "template") -> dict[str, Any]:
    """id, postURL, metadata, expires and signature for POSTing a template's file."""
    expires = expires_text(time.time() + UPLOAD_TTL)
    metadata = base64.urlsafe_b64encode(json.dumps({"kind": kind, "id": t.uuid, "expires": expires}).encode()).decode()
    path = f"/upload/{kind}/{t.uuid}"
    return {"id": t.uuid, "postURL": base_url(s) + path, "metadata": metadata, "expires": expires,
            "signature": _mac(signing_key(s), path, metadata, expires)}


def check_upload(s: Session, kind: str, uuid: str, signature: str, metadata: str, expires: str) -> None:
    """PermissionDenied unless the X-signature/X-metadata/X-expires headers were made here for this URL."""
    path = f"/upload/{kind}/{uuid}"
    good = _mac(signing_key(s), path, metadata, expires)
    if not signature or not hmac.compare_digest(good, signature):
        raise PermissionDenied("upload refused: bad or missing X-signature (ask getUploadParamsForTemplate again)")
    _not_expired(expires)


def _not_expired(expires: str) -> None:
    """PermissionDenied when an expiry time has passed or cannot be read."""
    try:
        when = datetime.strptime(expires, "%Y-%m-%dT%H:%M:%S%z").timestamp()
    except ValueError:
        raise PermissionDenied(f"unreadable expiry time {expires!r}") from None
    if when < time.time():
        raise PermissionDenied(f"the signed URL expired at {expires}")


def download_url(s: Session, t: Template) -> str:
    """A signed, expiring URL serving a template's file from the image store."""
    expires = expires_text(time.time() + EXTRACT_TTL)
    name = dest_of(t).rsplit("/", 1)[1]
    path = f"/download/template/{t.uuid}/{name}"
    query = urlencode({"expires": expires, "signature": _mac(signing_key(s), path, expires)})
    return f"{base_url(s)}{path}?{query}"


def check_download(s: Session, path: str, expires: str, signature: str) -> None:
    """PermissionDenied unless a download URL was signed here and has not expired."""
    if not signature or not hmac.compare_digest(_mac(signing_key(s), path, expires), signature):
        raise PermissionDenied("download refused: bad or missing signature")
    _not_expired(expires)


def _claim(app: VirgaApp, uuid: str) -> tuple[str, str, str | None, str | None]:
    """Mark a template awaiting its upload as in progress; (store url, dest path, checksum, format)."""
    with app.db.session() as s:
        t = s.exec(select(Template).where(Template.uuid == uuid, Template.removed == None)).first()  # noqa: E711
        if t is None:
            raise InvalidParameter(f"Unable to find template with id {uuid}")
        if t.isready or not (t.status == AWAITING or t.status.startswith("Upload Failed")):
            raise InvalidParameter(f"Template {t.name} is not waiting for an upload (status {t.status})")
        store = store_of(s, t)
        t.status = "Upload In Progress"
        s.add(t)
        s.commit()
        fmt = t.format.lower()
        return store.url, dest_of(t), t.checksum or None, None if fmt == "ova" else fmt


async def receive(app: VirgaApp, uuid: str, chunks: AsyncIterator[bytes], total: int | None) -> dict[str, Any]:
    """Verify and store an uploaded file; the template becomes ready, or says why the upload failed."""
    from virga.appliance.storage import ImageStore as NfsStore
    from virga.appliance.storage import StorageError, upload

    store_url, dest, checksum, fmt = _claim(app, uuid)
    state = {"done": 0, "pct": -1}

    async def counted() -> AsyncIterator[bytes]:
        """Pass the chunks on, recording progress as a percentage of the request's length."""
        async for data in chunks:
            state["done"] += len(data)
            pct = min(99, state["done"] * 100 // total) if total else 0
            if pct != state["pct"]:
                state["pct"] = pct
                update(app, uuid, status=f"{pct}% Uploaded")
            yield data

    try:
        got = await upload(counted(), NfsStore(store_url), dest, checksum=checksum, expected_format=fmt)
    except (StorageError, InvalidParameter) as exc:
        update(app, uuid, status=f"Upload Failed: {getattr(exc, 'text', None) or exc}")
        raise InvalidParameter(f"Upload failed: {getattr(exc, 'text', None) or exc}") from None
    except BaseException as exc:
        update(app, uuid, status=f"Upload Failed: {exc}")
        raise
    update(app, uuid, status="Download Complete", isready=True, install_path=got.url,
           size=got.virtual_size or got.size, physicalsize=got.size, checksum=got.checksum or checksum or "")
    return {"id": uuid, "size": got.size, "status": "Download Complete"}


def store_file(s: Session, t: Template) -> tuple[str, str]:
    """(store URL, store path) of a ready template's file; InternalError unless it is on an NFS store."""
    if not t.isready or not t.install_path.startswith("nfs://"):
        raise InvalidParameter(f"Template {t.name} is not a file on an NFS image store (status {t.status or 'none'})")
    store = store_of(s, t)
    prefix = store.url.rstrip("/") + "/"
    if not t.install_path.startswith(prefix):
        raise InternalError(f"Template {t.name} is on {t.install_path}, not on the image store {store.url}")
    return store.url, t.install_path.removeprefix(prefix)
