"""The ASGI application: /client/api in the CloudStack dialect, served by uvicorn or in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from virga.api.console import routes as console_routes
from virga.api.dispatch import dispatch
from virga.api.response import to_json, to_xml
from virga.api.transfers import routes as transfer_routes
from virga.core import VirgaApp


async def _params(request: Request) -> dict[str, str]:
    """Query-string and form parameters of a request (form wins)."""
    params = dict(request.query_params)
    if request.method == "POST":
        ctype = request.headers.get("content-type", "")
        if "x-www-form-urlencoded" in ctype:
            body = (await request.body()).decode()
            params.update(dict(parse_qsl(body, keep_blank_values=True)))
    return params


def make_asgi(app: VirgaApp, *, manage: bool = True) -> Starlette:
    """Build the ASGI app; with manage=True its lifespan starts and stops the management server."""

    async def api(request: Request) -> Response:
        """Dispatch one API call."""
        params = await _params(request)
        reply = await dispatch(app, params, request.cookies.get("sessionkey"))
        as_json = params.get("response", "xml").lower() == "json"
        body = to_json(reply.body) if as_json else to_xml(reply.body)
        ctype = "application/json; charset=UTF-8" if as_json else "text/xml; charset=UTF-8"
        resp = Response(body, status_code=reply.status, media_type=ctype)
        if reply.sessionkey:  # HttpOnly (no script reads it) and SameSite (no other site sends it)
            resp.set_cookie("sessionkey", reply.sessionkey, httponly=True, samesite="strict", path="/")
        elif reply.status == 200 and params.get("command", "").lower() == "logout":
            resp.delete_cookie("sessionkey", path="/", httponly=True, samesite="strict")
        return resp

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        """Start and stop the management server with the web server."""
        if manage:
            await app.start()
        try:
            yield
        finally:
            if manage:
                await app.stop()

    routes: list[BaseRoute] = [Route(path, api, methods=["GET", "POST"]) for path in ("/client/api", "/client/api/")]
    routes += transfer_routes(app)  # template uploads (signed POST) and extractTemplate downloads
    routes += console_routes()  # guest serial consoles (websocket; token from createConsoleEndpoint)
    asgi = Starlette(routes=routes, lifespan=lifespan)
    asgi.state.virga = app
    return asgi
