"""virga console VM: attach this terminal to a guest's serial console (Ctrl-] leaves)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import termios
import tty
from typing import Any, Protocol

from virga.client import ApiError, VirgaClient

ESCAPE = b"\x1d"  # Ctrl-]
HINT = "virga: connected to the serial console of {name} (Ctrl-] to leave)\r\n"


class Channel(Protocol):
    """A console connection: bytes out of the guest, keystrokes into it."""

    async def recv(self) -> bytes:
        """The next console output; b'' when the console closed."""
        ...

    async def send(self, data: bytes) -> None:
        """Type bytes on the console."""
        ...

    async def close(self) -> None:
        """Leave the console."""
        ...


class ConsoleClosed(Exception):
    """The server refused or ended the console session."""


class AsgiChannel:
    """A websocket to an in-process ASGI app (the embedded cloud), spoken at the ASGI message level."""

    def __init__(self, asgi: Any, path: str, query: str) -> None:
        """Remember where to connect."""
        self._asgi, self._path, self._query = asgi, path, query
        self._to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.close_reason = ""

    async def connect(self) -> AsgiChannel:
        """Run the websocket handshake; ConsoleClosed when the app refuses."""
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "scheme": "ws",
            "path": self._path,
            "raw_path": self._path.encode(),
            "root_path": "",
            "query_string": self._query.encode(),
            "headers": [],
            "client": ("127.0.0.1", 0),
            "server": ("embedded", 0),
            "subprotocols": [],
        }
        self._task = asyncio.create_task(self._asgi(scope, self._to_app.get, self._from_app.put))
        await self._to_app.put({"type": "websocket.connect"})
        msg = await self._from_app.get()
        if msg["type"] != "websocket.accept":
            raise ConsoleClosed(msg.get("reason") or "the console was refused")
        return self

    async def recv(self) -> bytes:
        """The next binary frame; b'' once the app closed the socket."""
        while True:
            msg = await self._from_app.get()
            if msg["type"] == "websocket.send":
                return msg.get("bytes") or (msg.get("text") or "").encode()
            if msg["type"] == "websocket.close":
                self.close_reason = msg.get("reason") or ""
                return b""

    async def send(self, data: bytes) -> None:
        """Send a binary frame."""
        await self._to_app.put({"type": "websocket.receive", "bytes": data})

    async def close(self) -> None:
        """Disconnect and let the app finish."""
        await self._to_app.put({"type": "websocket.disconnect", "code": 1000})
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 10)


class WebSocketChannel:
    """A websocket to a remote virga API server (the `websockets` package)."""

    def __init__(self, url: str) -> None:
        """Remember the ws:// URL."""
        self._url = url
        self._ws: Any = None
        self.close_reason = ""

    async def connect(self) -> WebSocketChannel:
        """Open the websocket."""
        try:
            from websockets.asyncio.client import connect
        except ImportError as err:
            raise ConsoleClosed("the `websockets` package is needed for remote consoles") from err
        self._ws = await connect(self._url, max_size=None)
        return self

    async def recv(self) -> bytes:
        """The next frame; b'' once the server closed."""
        from websockets.exceptions import ConnectionClosed

        try:
            data = await self._ws.recv()
        except ConnectionClosed as err:
            self.close_reason = err.rcvd.reason if err.rcvd else ""
            return b""
        return data if isinstance(data, bytes) else data.encode()

    async def send(self, data: bytes) -> None:
        """Send a binary frame."""
        await self._ws.send(data)

    async def close(self) -> None:
        """Close the websocket."""
        await self._ws.close()


async def find_vm(client: VirgaClient, ref: str) -> dict[str, Any]:
    """A VM by id or by name (exactly one must match)."""
    found = (
        await client.list("listVirtualMachines", "virtualmachine", id=ref, listall=True)
        if _looks_like_uuid(ref)
        else []
    )
    if not found:
        found = [
            v
            for v in await client.list("listVirtualMachines", "virtualmachine", name=ref, listall=True)
            if ref in (v.get("name"), v.get("displayname"))
        ]
    if len(found) != 1:
        raise ConsoleClosed(f"{'no' if not found else len(found)} VM(s) named {ref!r}")
    return found[0]


def _looks_like_uuid(ref: str) -> bool:
    """Whether a reference has the shape of a UUID."""
    parts = ref.split("-")
    return len(parts) == 5 and all(c in "0123456789abcdefABCDEF" for c in ref.replace("-", ""))


async def open_channel(client: VirgaClient, vm_id: str) -> Channel:
    """Ask the API for a console endpoint and connect to it (in-process or over the network)."""
    ep = (await client.call("createConsoleEndpoint", virtualmachineid=vm_id))["consoleendpoint"]
    ws = ep["websocket"]
    asgi = getattr(client, "_asgi", None)
    if asgi is not None:
        return await AsgiChannel(asgi, ws["path"], f"token={ws['token']}").connect()
    if getattr(client, "_uds", ""):  # the embedded cloud of another virga, reached through its local socket
        raise ConsoleClosed("consoles are not served on the embedded cloud's local socket; use virga serve and --url")
    base = str(getattr(client, "_url", "")).split("/client/api")[0].rstrip("/")
    return await WebSocketChannel(base.replace("http", "ws", 1) + ep["url"]).connect()


async def attach(chan: Channel, stdin: int, stdout: int) -> str:
    """Copy keystrokes to the console and its output to the terminal until Ctrl-] or the end."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[str] = loop.create_future()

    def finish(why: str) -> None:
        """Resolve once."""
        if not done.done():
            done.set_result(why)

    def on_key() -> None:
        """Forward typed bytes; Ctrl-] detaches."""
        data = os.read(stdin, 1024)
        if not data or ESCAPE in data:
            if data.split(ESCAPE)[0]:
                loop.create_task(chan.send(data.split(ESCAPE)[0]))
            finish("detached")
            return
        loop.create_task(chan.send(data))

    async def pump() -> None:
        """Console output to the terminal."""
        while chunk := await chan.recv():
            os.write(stdout, chunk)
        reason = getattr(chan, "close_reason", "")
        finish("console closed" + (f": {reason}" if reason else ""))

    saved = termios.tcgetattr(stdin) if os.isatty(stdin) else None
    if saved is not None:
        tty.setraw(stdin)
    loop.add_reader(stdin, on_key)
    task = loop.create_task(pump())
    try:
        return await done
    finally:
        loop.remove_reader(stdin)
        task.cancel()
        if saved is not None:
            termios.tcsetattr(stdin, termios.TCSADRAIN, saved)
        await chan.close()


async def run_console(client: VirgaClient, ref: str, stdin: int = 0, stdout: int = 1) -> str:
    """Attach a terminal to a VM's console; returns why it ended."""
    vm = await find_vm(client, ref)
    chan = await open_channel(client, vm["id"])
    os.write(stdout, HINT.format(name=vm["name"]).encode())
    return await attach(chan, stdin, stdout)


def add_parser(sub: Any) -> None:
    """The `console` subcommand."""
    p = sub.add_parser("console", help="attach to a VM's serial console (Ctrl-] leaves)")
    p.add_argument("vm", help="the VM's id or name")


async def cmd_console(args: argparse.Namespace) -> int:
    """Run `virga console VM`."""
    from virga.cli import embedded
    from virga.cli.main import _creds

    url, creds = _creds(args)
    async with embedded.connect(url, creds) as client:
        try:
            why = await run_console(client, args.vm)
        except (ApiError, ConsoleClosed) as err:
            print(f"virga: {getattr(err, 'text', err)}", file=sys.stderr)
            return 1
    print(f"\r\nvirga: {why}", file=sys.stderr)
    return 0
