"""HTTP routes beside /client/api: POST uploads (getUploadParamsFor*) and signed downloads (extract*)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from sqlmodel import Session, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from virga.api.multipart import boundary_of, file_field
from virga.core import VirgaApp
from virga.errors import CloudError, InvalidParameter
from virga.models import Template
from virga.services import uploads

CHUNK = 1 << 20
Receiver = Callable[[str, AsyncIterator[bytes], "int | None"], Awaitable[dict[str, Any]]]


def _error(err: CloudError) -> Response:
    """A JSON error answer with the CloudStack error code as HTTP status."""
    return JSONResponse({"errorcode": err.code, "errortext": err.text}, status_code=err.code)


def _receiver(app: VirgaApp, kind: str, meta: dict[str, Any]) -> Receiver:
    """The function storing an upload of one kind (template, iso or volume)."""
    if kind == "volume":
        from virga.services import volupload

        return lambda uuid, body, total: volupload.receive(app, uuid, body, total, meta.get("checksum") or None)
    if kind in ("template", "iso"):
        return lambda uuid, body, total: uploads.receive(app, uuid, body, total, kind)
    raise InvalidParameter(f"nothing of kind {kind!r} can be uploaded (template, iso or volume)")


def _locate(s: Session, kind: str, uuid: str) -> tuple[str, str]:
    """(store URL, store path) of the file a download URL of this kind names."""
    if kind == "volume":
        from virga.services import volupload

        return volupload.store_file(s, uuid)
    t = s.exec(select(Template).where(Template.uuid == uuid, Template.removed == None)).first()
    if t is None or kind not in ("template", "iso") or t.is_iso != (kind == "iso"):
        raise InvalidParameter(f"Unable to find {kind} with id {uuid}")
    return uploads.store_file(s, t)


def routes(app: VirgaApp) -> list[Route]:
    """The upload and download routes for one management server."""

    async def upload_file(request: Request) -> Response:
        """Receive a file posted as multipart/form-data field `file` with the signed X- headers."""
        kind, uuid, h = request.path_params["kind"], request.path_params["uuid"], request.headers
        try:
            with app.db.session() as s:
                uploads.check_upload(
                    s, kind, uuid, h.get("x-signature", ""), h.get("x-metadata", ""), h.get("x-expires", "")
                )
            store = _receiver(app, kind, uploads.metadata_of(h.get("x-metadata", "")))
            body = file_field(request.stream(), boundary_of(h.get("content-type", "")))
            length = h.get("content-length", "")
            result = await store(uuid, body, int(length) if length.isdigit() else None)
        except CloudError as err:
            return _error(err)
        return JSONResponse(result)

    async def download_file(request: Request) -> Response:
        """Serve a template's, ISO's or volume's file from the image store to a holder of a signed URL."""
        kind, uuid = request.path_params["kind"], request.path_params["uuid"]
        try:
            with app.db.session() as s:
                uploads.check_download(
                    s,
                    request.url.path,
                    request.query_params.get("expires", ""),
                    request.query_params.get("signature", ""),
                )
                store_url, rel = _locate(s, kind, uuid)
            size = await _size(store_url, rel)
        except CloudError as err:
            return _error(err)
        return StreamingResponse(
            _nfs_cat(f"{store_url.rstrip('/')}/{rel}"),
            media_type="application/octet-stream",
            headers={"Content-Length": str(size)},
        )

    return [
        Route("/upload/{kind}/{uuid}", upload_file, methods=["POST"]),
        Route("/download/{kind}/{uuid}/{name}", download_file, methods=["GET"]),
    ]


async def _size(store_url: str, rel: str) -> int:
    """Size of a store file; InvalidParameter when it is missing or the store does not answer."""
    from virga.appliance.storage import ImageStore, StorageError

    try:
        return await ImageStore(store_url).size(rel)
    except StorageError as exc:
        raise InvalidParameter(f"the file is not readable on the image store: {exc}") from None


async def _nfs_cat(url: str) -> AsyncIterator[bytes]:
    """Stream a store file through `nfs-cat` (libnfs-utils); the process is killed if the client goes away."""
    proc = await asyncio.create_subprocess_exec(
        "nfs-cat", url, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    assert proc.stdout is not None
    try:
        while data := await proc.stdout.read(CHUNK):
            yield data
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
