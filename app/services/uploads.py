"""Uploads of template/ISO files (getUploadParamsForTemplate + POST) and signed download URLs (extractTemplate)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from sqlmodel import Session, select
from virga.context import Ctx
from virga.errors import InternalError, InvalidParameter, PermissionDenied
from virga.jobs.engine import JobRun, Ref, Restart, job_body
from virga.models import Template
from virga.models.misc import Configuration
from virga.services.templates import dest_of, store_of, update

if TYPE_CHECKING:
    from virga.appliance.storage import StoredImage
    from virga.core import VirgaApp

KEY_SETTING = "upload.signing.key"
ENDPOINT_SETTING = "endpoint.url"
DEFAULT_ENDPOINT = "http://localhost:8080/client/api"
AWAITING = "NotUploaded"
UPLOAD_TTL = 3600
EXTRACT_TTL = 4 * 3600


@dataclass(frozen=True)
class Extracted:
    """An extract job's result: a signed download URL for a template's, ISO's or volume's file (model: its row's)."""

    model: type
    uuid: str
    url: str
    mode: str


def signing_key(s: Session) -> bytes:
    """The server's upload/download signing key (made on first use, kept as a setting only root admins see)."""
    row = s.get(Configuration, KEY_SETTING)
    if row is None:
        row = Configuration(
            name=KEY_SETTING,
            value=secrets.token_hex(32),
            category="Hidden",
            description="HMAC key signing upload and download URLs",
        )
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


def upload_params(s: Session, t: Any, kind: str = "template", **extra: str) -> dict[str, Any]:
    """id, postURL, metadata, expires and signature for POSTing the file of a template, ISO or volume row.

    extra (e.g. a volume's checksum) travels in the signed metadata and comes back with the POST.
    """
    expires = expires_text(time.time() + UPLOAD_TTL)
    meta = {"kind": kind, "id": t.uuid, "expires": expires, **extra}
    metadata = base64.urlsafe_b64encode(json.dumps(meta).encode()).decode()
    path = f"/upload/{kind}/{t.uuid}"
    return {
        "id": t.uuid,
        "postURL": base_url(s) + path,
        "metadata": metadata,
        "expires": expires,
        "signature": _mac(signing_key(s), path, metadata, expires),
    }


def metadata_of(metadata: str) -> dict[str, Any]:
    """The fields of a signed X-metadata header (call check_upload first)."""
    try:
        out = json.loads(base64.urlsafe_b64decode(metadata.encode()))
    except ValueError:
        raise InvalidParameter("unreadable X-metadata header") from None
    return out if isinstance(out, dict) else {}


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
    """A signed, expiring URL serving a template's (or ISO's) file from the image store."""
    return signed_url(s, "iso" if t.is_iso else "template", t.uuid, dest_of(t).rsplit("/", 1)[1])


def signed_url(s: Session, kind: str, uuid: str, name: str) -> str:
    """A signed, expiring URL of the download route for one stored file (kind: template, iso or volume)."""
    expires = expires_text(time.time() + EXTRACT_TTL)
    path = f"/download/{kind}/{uuid}/{name}"
    query = urlencode({"expires": expires, "signature": _mac(signing_key(s), path, expires)})
    return f"{base_url(s)}{path}?{query}"


def check_download(s: Session, path: str, expires: str, signature: str) -> None:
    """PermissionDenied unless a download URL was signed here and has not expired."""
    if not signature or not hmac.compare_digest(_mac(signing_key(s), path, expires), signature):
        raise PermissionDenied("download refused: bad or missing signature")
    _not_expired(expires)


def _claim(app: VirgaApp, uuid: str, kind: str) -> tuple[str, str, str | None, str | None]:
    """Mark a template (or ISO) awaiting its upload as in progress; (store url, dest path, checksum, format)."""
    with app.db.session() as s:
        t = s.exec(select(Template).where(Template.uuid == uuid, Template.removed == None)).first()
        if t is None or t.is_iso != (kind == "iso"):
            raise InvalidParameter(f"Unable to find {kind} with id {uuid}")
        if t.isready or not (t.status == AWAITING or t.status.startswith("Upload Failed")):
            raise InvalidParameter(f"Template {t.name} is not waiting for an upload (status {t.status})")
        store = store_of(s, t)
        t.status = "Upload In Progress"
        s.add(t)
        s.commit()
        fmt = t.format.lower()
        return store.url, dest_of(t), t.checksum or None, None if fmt == "ova" else fmt


class UploadRefused(InvalidParameter):
    """An upload cut off or failing verification (checksum, format); `reason` says why, nothing was stored."""

    def __init__(self, reason: str) -> None:
        """Keep the reason; the error text is 'Upload failed: <reason>'."""
        super().__init__(f"Upload failed: {reason}")
        self.reason = reason


async def land_upload(
    chunks: AsyncIterator[bytes],
    store_url: str,
    dest: str,
    *,
    checksum: str | None,
    fmt: str | None,
    total: int | None,
    on_percent: Callable[[int], None] | None = None,
) -> StoredImage:
    """Stream an upload onto the image store, verified and atomic; UploadRefused when it cannot be kept."""
    from virga.appliance.storage import ImageStore as NfsStore
    from virga.appliance.storage import StorageError, upload

    state = {"done": 0, "pct": -1}

    async def counted() -> AsyncIterator[bytes]:
        """Pass the chunks on, reporting progress as a percentage of the request's length."""
        async for data in chunks:
            state["done"] += len(data)
            pct = min(99, state["done"] * 100 // total) if total else 0
            if pct != state["pct"] and on_percent is not None:
                on_percent(pct)
            state["pct"] = pct
            yield data

    try:
        return await upload(counted(), NfsStore(store_url), dest, checksum=checksum, expected_format=fmt)
    except (StorageError, InvalidParameter) as exc:
        raise UploadRefused(str(getattr(exc, "text", None) or exc)) from None


async def receive(
    app: VirgaApp, uuid: str, chunks: AsyncIterator[bytes], total: int | None, kind: str = "template"
) -> dict[str, Any]:
    """Verify and store an uploaded template or ISO file; it becomes ready, or says why the upload failed."""
    store_url, dest, checksum, fmt = _claim(app, uuid, kind)
    try:
        got = await land_upload(
            chunks,
            store_url,
            dest,
            checksum=checksum,
            fmt=fmt,
            total=total,
            on_percent=lambda pct: update(app, uuid, status=f"{pct}% Uploaded"),
        )
    except UploadRefused as exc:
        update(app, uuid, status=f"Upload Failed: {exc.reason}")
        raise
    except BaseException as exc:
        update(app, uuid, status=f"Upload Failed: {exc}")
        raise
    update(
        app,
        uuid,
        status="Download Complete",
        isready=True,
        install_path=got.url,
        size=got.virtual_size or got.size,
        physicalsize=got.size,
        checksum=got.checksum or checksum or "",
    )
    return {"id": uuid, "size": got.size, "status": "Download Complete"}


def store_file(s: Session, t: Template) -> tuple[str, str]:
    """(store URL, store path) of a ready template's file; InternalError unless it is on an NFS store."""
    if not t.isready or not t.install_path.startswith("nfs://"):
        raise InvalidParameter(f"Template {t.name} is not a file on an NFS image store (status {t.status or 'none'})")
    store = store_of(s, t)
    return store.url, on_store(store.url, t.install_path, f"Template {t.name}")


def on_store(store_url: str, file_url: str, what: str) -> str:
    """The store-relative path of a file URL on an image store; InternalError when it is elsewhere."""
    prefix = store_url.rstrip("/") + "/"
    if not file_url.startswith(prefix):
        raise InternalError(f"{what} is on {file_url}, not on the image store {store_url}")
    return file_url.removeprefix(prefix)


def record_upload(ctx: Ctx, t: Template) -> dict[str, Any]:
    """Record a template or ISO waiting for its file; the getuploadparams object signing its POST."""
    ctx.db.add(t)
    ctx.db.flush()
    return upload_params(ctx.db, t, "iso" if t.is_iso else "template")


@job_body("extractTemplate", restart=Restart.FAIL)
async def extract_template(run: JobRun) -> Ref:
    """Sign a download URL for the template's (or ISO's) file on the image store (it writes nothing)."""
    with run.db() as s:
        t = s.exec(select(Template).where(Template.uuid == run.instance_uuid)).one()
        store_file(s, t)
        url = download_url(s, t)
        key = "iso" if t.is_iso else "template"
    return Ref(Extracted, Extracted(Template, run.instance_uuid, url, run.params["mode"]), key=key)


job_body("extractIso", restart=Restart.FAIL)(extract_template)
