"""Guest serial consoles over the API: createConsoleEndpoint hands out a one-time token for the
websocket route /client/console, which streams the console through the host's driver."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from dataclasses import dataclass

from sqlmodel import select
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from virga.core import VirgaApp
from virga.drivers.base import Capability, ConsoleStream, Driver, DriverError
from virga.drivers.registry import driver_class
from virga.models import Host, VirtualMachine

PATH = "/client/console"
TOKEN_TTL = 60.0
# websocket close codes (4000-4999 are for applications)
BAD_TOKEN, GONE, FAILED = 4401, 4404, 4500


@dataclass(frozen=True)
class Ticket:
    """What a console token grants: one attach to one VM's console, before it expires."""

    vm_uuid: str
    vm_name: str
    expires: float


_TICKETS: dict[str, Ticket] = {}


def issue(vm: VirtualMachine) -> tuple[str, Ticket]:
    """A fresh single-use token for a VM's console (expired tokens are dropped on the way)."""
    now = time.monotonic()
    for tok in [t for t, tk in _TICKETS.items() if tk.expires < now]:
        _TICKETS.pop(tok, None)
    token = secrets.token_urlsafe(32)
    ticket = Ticket(vm_uuid=vm.uuid, vm_name=vm.name, expires=now + TOKEN_TTL)
    _TICKETS[token] = ticket
    return token, ticket


def redeem(token: str) -> Ticket | None:
    """The ticket of a token, consumed; None when unknown or expired."""
    ticket = _TICKETS.pop(token, None)
    if ticket is None or ticket.expires < time.monotonic():
        return None
    return ticket


def console_capable(hypervisor: str) -> bool:
    """Whether a hypervisor's driver declares and implements a serial console stream."""
    cls = driver_class(hypervisor)
    return Capability.SERIAL_CONSOLE in cls.capabilities and cls.open_console is not Driver.open_console


async def _open(app: VirgaApp, ticket: Ticket) -> ConsoleStream:
    """The console stream of the ticket's VM on the host it runs on now."""
    with app.db.session() as s:
        vm = s.exec(select(VirtualMachine).where(VirtualMachine.uuid == ticket.vm_uuid)).first()
        host = s.get(Host, vm.host_id) if vm is not None and vm.host_id is not None else None
    if vm is None or host is None or vm.state != "Running":
        raise LookupError(f"VM {ticket.vm_name} is not running any more")
    drv = await app.hosts.driver(host)
    return await drv.open_console(ticket.vm_uuid)


async def _pump_out(ws: WebSocket, stream: ConsoleStream) -> None:
    """Guest -> client: history first, then live output until the console ends."""
    if past := await stream.history():
        await ws.send_bytes(past)
    while data := await stream.read():
        await ws.send_bytes(data)


async def _pump_in(ws: WebSocket, stream: ConsoleStream) -> None:
    """Client -> guest: every frame (binary, or text as UTF-8) is typed on the console."""
    while True:
        msg = await ws.receive()
        if msg["type"] == "websocket.disconnect":
            return
        data = msg.get("bytes") or (msg.get("text") or "").encode()
        if data:
            await stream.write(data)


async def serve_console(ws: WebSocket) -> None:
    """One console session: redeem the token, attach, pump both ways until either side ends."""
    app: VirgaApp = ws.app.state.virga
    ticket = redeem(ws.query_params.get("token", ""))
    await ws.accept()
    if ticket is None:
        await ws.close(BAD_TOKEN, "invalid or expired console token (call createConsoleEndpoint)")
        return
    try:
        stream = await _open(app, ticket)
    except LookupError as err:
        await ws.close(GONE, str(err))
        return
    except DriverError as err:
        await ws.close(FAILED, str(err)[:120])
        return
    tasks = [asyncio.create_task(_pump_out(ws, stream)), asyncio.create_task(_pump_in(ws, stream))]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                await ws.close(FAILED, str(task.exception())[:120])
    except RuntimeError:
        pass  # the client went away while we closed
    finally:
        for task in tasks:
            task.cancel()
        await stream.close()
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await ws.close(1000, "console closed")


def routes() -> list[WebSocketRoute]:
    """The console websocket route."""
    return [WebSocketRoute(PATH, serve_console)]
