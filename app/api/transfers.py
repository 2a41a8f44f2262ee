"""HTTP routes beside /client/api: POST uploads (getUploadParamsForTemplate) and signed downloads (extractTemplate)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from sqlmodel import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from virga.api.multipart import boundary_of, file_field
from virga.core import VirgaApp
from virga.errors import CloudError, InvalidParameter
from virga.models import Template
from virga.services import uploads

CHUNK = 1 << 20


def _error(err: CloudError) -> Response:
    """A JSON error answer with the CloudStack error code as HTTP status."""
    return JSONResponse({"errorcode": err.code, "errortext": err.text}, status_code=err.code)


def routes(app: VirgaApp) -> list[Route]:
    """The upload and download routes for one management server."""

    async def upload_template(request: Request) -> Response:
        """Receive a template file posted as multipart/form-data field `file` with the signed X- headers."""
        uuid, h = request.path_params["uuid"], request.headers
        try:
            with app.db.session() as s:
                uploads.check_upload(s, "template", uuid, h.get("x-signature", ""), h.get("x-metadata", ""),
                                     h.get("x-expires", ""))
            body = file_field(request.stream(), boundary_of(h.get("content-type", "")))
            length = h.get("content-length", "")
            result = await uploads.receive(app, uuid, body, int(length) if length.isdigit() else None)
        except CloudError as err:
            return _error(err)
        return JSONResponse(result)

    async def download_template(request: Request) -> Response:
        """Serve a template's file from the image store to a holder of a signed URL."""
        uuid = request.path_params["uuid"]
        try:
            with app.db.session() as s:
                uploads.check_download(s, request.url.path, request.query_params.get("expires", ""),
                                       request.query_params.get("signature", ""))
                t = s.exec(select(Template).where(Template.uuid == uuid, Template.removed == None)).first()  # noqa: E711
                if t is None:
                    raise InvalidParameter(f"Unable to find template with id {uuid}")
                store_url, rel = uploads.store_file(s, t)
            size = await _size(store_url, rel)
        except CloudError as err:
            return _error(err)
        return StreamingResponse(_nfs_cat(f"{store_url.rstrip('/')}/{rel}"), media_type="application/octet-stream",
                                 headers={"Content-Length": str(size)})

    return [Route("/upload/template/{uuid}", upload_template, methods=["POST"]),
            Route("/download/template/{uuid}/{name}", download_template, methods=["GET"])]


async def _size(store_url: str, rel: str) -> int:
    """Size of a store file; InvalidParameter when it is missing or the store does not answer."""
    from virga.appliance.storage import ImageStore, StorageError

    try:
        return await ImageStore(store_url).size(rel)
    except StorageError as exc:
        raise InvalidParameter(f"the template file is not readable on the image store: {exc}") from None


async def _nfs_cat(url: str) -> AsyncIterator[bytes]:
    """Stream a store file through `nfs-cat` (libnfs-utils); the process is killed if the client goes away."""
    proc = await asyncio.create_subprocess_exec("nfs-cat", url, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.DEVNULL)
    assert proc.stdout is not None
    try:
        while data := await proc.stdout.read(CHUNK):
            yield data
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
