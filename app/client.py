"""An API client for virga (and any CloudStack): signed requests, async job waiting, in-process or HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from virga.api.auth import sign
from virga.tls import client_verify


class ApiError(Exception):
    """An error answer from the API: its code and text."""

    def __init__(self, code: int, text: str, command: str = "") -> None:
        """Keep the code, the text and the command."""
        super().__init__(f"{command}: ({code}) {text}" if command else f"({code}) {text}")
        self.code, self.text, self.command = code, text, command


@dataclass
class Credentials:
    """API keys, or a username/password for login."""

    apikey: str = ""
    secretkey: str = ""
    username: str = ""
    password: str = ""
    domain: str = "/"
    cafile: str = ""  # HTTPS: a CA file (e.g. the server's self-signed certificate) ...
    fingerprint: str = ""  # ... or the SHA-256 fingerprint of the server's certificate, pinned


def signed_query(params: dict[str, str], creds: Credentials, expires_in: int = 600) -> dict[str, str]:
    """Add apiKey, signatureVersion 3, expires and the signature to a request's parameters."""
    expires = (datetime.now(UTC) + timedelta(seconds=expires_in)).strftime("%Y-%m-%dT%H:%M:%S+0000")
    full = {**params, "apiKey": creds.apikey, "signatureVersion": "3", "expires": expires}
    full["signature"] = sign(full, creds.secretkey)
    return full


class VirgaClient:
    """Talk to /client/api over HTTP or to an in-process ASGI app."""

    def __init__(
        self,
        url: str = "",
        creds: Credentials | None = None,
        *,
        asgi: Any = None,
        timeout: float = 60.0,
        uds: str = "",
    ) -> None:
        """Connect to a URL (http://host:8080), a local socket (uds) or wrap an ASGI app (embedded mode)."""
        self.creds = creds or Credentials()
        self._url, self._asgi, self._timeout, self._uds = url, asgi, timeout, uds
        transport: httpx.AsyncBaseTransport | None = httpx.ASGITransport(app=asgi) if asgi is not None else None
        if uds:
            transport = httpx.AsyncHTTPTransport(uds=uds)
        base = url.rstrip("/").removesuffix("/client/api") if url else "http://virga.embedded"  # both forms
        verify = client_verify(base, self.creds.cafile, self.creds.fingerprint) if transport is None else True
        self.http = httpx.AsyncClient(base_url=base, transport=transport, timeout=timeout, verify=verify)
        self.sessionkey: str | None = None
        self._last: dict[str, str] = {}

    @property
    def last_request(self) -> str:
        """The query string of the last request (the TUI's "what was sent" lesson), encoded when asked."""
        return "/client/api?" + urlencode(self._last) if self._last else ""

    def as_user(self, creds: Credentials) -> VirgaClient:
        """Another client for the same server with other credentials."""
        return VirgaClient(self._url, creds, asgi=self._asgi, timeout=self._timeout, uds=self._uds)

    async def close(self) -> None:
        """Close the HTTP client."""
        await self.http.aclose()

    async def login(self) -> dict[str, Any]:
        """Log in with username/password and keep the session key."""
        body = await self._send(
            {
                "command": "login",
                "username": self.creds.username,
                "password": self.creds.password,
                "domain": self.creds.domain,
            },
            sign_it=False,
        )
        self.sessionkey = body["sessionkey"]  # sent as the sessionkey parameter; the cookie jar keeps the cookie
        return body

    def _params(self, command: str, params: dict[str, Any]) -> dict[str, str]:
        """Flatten parameters: lists to commas, dict lists to name[i].key, booleans to true/false."""
        out: dict[str, str] = {"command": command}
        for key, value in params.items():
            if value is None:
                continue
            if isinstance(value, list) and value and isinstance(value[0], dict):
                for i, item in enumerate(value):
                    for k, v in item.items():
                        out[f"{key}[{i}].{k}"] = str(v)
            elif isinstance(value, list | tuple):
                out[key] = ",".join(str(v) for v in value)
            elif isinstance(value, bool):
                out[key] = "true" if value else "false"
            else:
                out[key] = str(value)
        return out

    async def _send(self, params: dict[str, str], sign_it: bool = True) -> dict[str, Any]:
        """Send one request and unwrap its envelope, raising ApiError on an error answer."""
        params = {**params, "response": "json"}
        if sign_it and self.sessionkey:
            params["sessionkey"] = self.sessionkey
        elif sign_it and self.creds.apikey:
            params = signed_query(params, self.creds)
        self._last = params
        resp = await self.http.post("/client/api", data=params)
        try:
            data = resp.json()
        except ValueError:
            raise ApiError(resp.status_code, resp.text[:200], params.get("command", "")) from None
        ((_, body),) = data.items() if len(data) == 1 else ((None, data),)
        if isinstance(body, dict) and "errorcode" in body:
            raise ApiError(int(body["errorcode"]), str(body.get("errortext", "")), params.get("command", ""))
        return body if isinstance(body, dict) else {}

    async def call(self, command: str, **params: Any) -> dict[str, Any]:
        """Run a command and return its response body (not waiting for async jobs)."""
        body = await self._send(self._params(command, params))
        if command.lower() == "logout":  # the session is over: back to API keys (if any)
            self.sessionkey = None
            self.http.cookies.clear()
        return body

    async def wait(
        self,
        jobid: str,
        *,
        interval: float = 0.05,
        timeout: float = 600.0,
        progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll queryAsyncJobResult until the job ends; return jobresult or raise its error.

        The first poll comes after `interval` (a job is never done the moment it is queued), later ones
        back off by half again each time, up to 10 intervals (0.5 s by default) for long jobs.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        pause = interval
        while True:
            await asyncio.sleep(pause)
            pause = min(pause * 1.5, interval * 10)
            job = await self.call("queryAsyncJobResult", jobid=jobid)
            if progress is not None:
                progress(job)
            if job.get("jobstatus") == 1:
                return dict(job.get("jobresult") or {})
            if job.get("jobstatus") == 2:
                res = job.get("jobresult") or {}
                raise ApiError(
                    int(res.get("errorcode", 530)), str(res.get("errortext", "job failed")), job.get("cmd", "")
                )
            if loop.time() > deadline:
                raise TimeoutError(f"job {jobid} did not finish within {timeout}s")
            interval = min(interval * 1.5, 1.0)

    async def run(self, command: str, **params: Any) -> dict[str, Any]:
        """Run a command; for async ones wait for the job and return its result."""
        body = await self.call(command, **params)
        if "jobid" in body and len(body) <= 2:
            return await self.wait(body["jobid"])
        return body

    async def list(self, command: str, item: str, **params: Any) -> list[dict[str, Any]]:
        """Run a list command and return its items (all pages when pagesize is not given)."""
        body = await self.call(command, **params)
        return list(body.get(item, []))
