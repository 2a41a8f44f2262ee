"""A real TCG guest deployed through the API; its serial console through createConsoleEndpoint and `virga console`."""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from virga.cli.console import AsgiChannel, run_console
from virga.client import ApiError

from tests.libvirt import support
from tests.libvirt.apizone import kvm_site, pool_name

pytestmark = [pytest.mark.integration, pytest.mark.slow]
BOOT = 240.0


async def _read_until(chan: AsgiChannel, pattern: bytes, timeout: float) -> bytes:
    """Console bytes until the pattern shows up."""
    buf = b""

    async def scan() -> bytes:
        """Read frames until the pattern is in the buffer."""
        nonlocal buf
        while pattern not in buf:
            chunk = await chan.recv()
            if not chunk:
                raise AssertionError(f"console closed ({chan.close_reason}); got {buf[-300:]!r}")
            buf += chunk
        return buf

    return await asyncio.wait_for(scan(), timeout)


async def _pty_until(master: int, pattern: bytes, timeout: float) -> bytes:
    """Bytes from a pty master until the pattern shows up."""
    loop = asyncio.get_running_loop()
    buf = b""
    deadline = loop.time() + timeout
    while pattern not in buf:
        if loop.time() > deadline:
            raise AssertionError(f"{pattern!r} not seen on the pty; got {buf[-300:]!r}")
        try:
            buf += os.read(master, 4096)
        except BlockingIOError:
            await asyncio.sleep(0.05)
    return buf


@pytest.fixture
def pool_dir(daemons: None):  # noqa: ANN201
    """A directory for the API's primary pool; its libvirt pool and files are removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="virga-apipool-", dir="/var/tmp"))
    os.chmod(path, 0o755)
    yield path
    support.drop_pool(pool_name(path), path)  # when the test failed before deleteStoragePool


async def test_console_of_a_real_guest(app, admin, cloud, guest_image, pool_dir) -> None:  # noqa: ANN001
    site = await kvm_site(app, admin, cloud, guest_image, pool_dir)
    vm = None
    try:
        vm = (
            await admin.run(
                "deployVirtualMachine",
                zoneid=cloud.zone,
                templateid=site.template,
                serviceofferingid=site.offering,
                networkids=site.network,
                hostid=site.host,
                name="console-it",
            )
        )["virtualmachine"]
        assert vm["state"] == "Running" and vm["hypervisor"] == "KVM"

        ep = (await admin.call("createConsoleEndpoint", virtualmachineid=vm["id"]))["consoleendpoint"]
        assert ep["success"] is True and ep["url"].startswith("/client/console?token=")
        query = f"token={ep['websocket']['token']}"
        chan = await AsgiChannel(admin._asgi, ep["websocket"]["path"], query).connect()  # noqa: SLF001
        try:
            out = await _read_until(chan, support.LOGIN, BOOT)  # history, then live output
        finally:
            await chan.close()
        assert b"virga-tiny login: ready" in out

        master, slave = os.openpty()
        os.set_blocking(master, False)
        task = asyncio.create_task(run_console(admin, "console-it", stdin=slave, stdout=slave))
        try:
            await _pty_until(master, b"Ctrl-] to leave", 30)
            os.write(master, b"echo virga-$((40+2))\r")
            await _pty_until(master, b"virga-42", 60)
            os.write(master, b"\x1d")
            assert await asyncio.wait_for(task, 30) == "detached"
        finally:
            task.cancel()
            os.close(master)
            os.close(slave)

        again = await AsgiChannel(admin._asgi, ep["websocket"]["path"], query).connect()  # noqa: SLF001
        assert await again.recv() == b"" and "token" in again.close_reason  # a token is good for one attach
    finally:
        if vm is not None:
            await admin.run("destroyVirtualMachine", id=vm["id"], expunge=True)
        subprocess.run(["ip", "link", "del", site.bridge], check=False, capture_output=True)
    domains = subprocess.run(
        ["virsh", "-c", "qemu:///system", "list", "--all", "--uuid"], capture_output=True, text=True
    ).stdout
    assert vm is not None and vm["id"] not in domains
    assert [p.name for p in pool_dir.iterdir() if not p.name.startswith("virga-template-")] == []
    assert (await admin.call("deleteStoragePool", id=site.pool))["success"] is True
    pools = subprocess.run(
        ["virsh", "-c", "qemu:///system", "pool-list", "--all", "--name"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert pool_name(pool_dir) not in pools  # the KVM host released it


async def test_bad_token_and_unsupported_hypervisor(app, admin, cloud) -> None:  # noqa: ANN001
    chan = await AsgiChannel(admin._asgi, "/client/console", "token=not-a-token").connect()  # noqa: SLF001
    assert await chan.recv() == b""
    assert "token" in chan.close_reason
    net = await _sim_network(admin, cloud)
    vm = (
        await admin.run(
            "deployVirtualMachine",
            zoneid=cloud.zone,
            templateid=cloud.template,
            serviceofferingid=(await admin.list("listServiceOfferings", "serviceoffering", name="Small Instance"))[0][
                "id"
            ],
            networkids=net,
        )
    )["virtualmachine"]
    with pytest.raises(ApiError) as err:
        await admin.call("createConsoleEndpoint", virtualmachineid=vm["id"])
    assert err.value.code == 431 and "not supported by the Simulator hypervisor" in err.value.text
    await admin.run("stopVirtualMachine", id=vm["id"])
    with pytest.raises(ApiError) as err:
        await admin.call("createConsoleEndpoint", virtualmachineid=vm["id"])
    assert "Stopped" in err.value.text


async def _sim_network(admin, cloud) -> str:  # noqa: ANN001
    """An isolated network in the simulator zone."""
    off = (
        await admin.list(
            "listNetworkOfferings", "networkoffering", name="DefaultIsolatedNetworkOfferingWithSourceNatService"
        )
    )[0]
    return (
        await admin.call(
            "createNetwork",
            name="sim-net",
            displaytext="sim",
            zoneid=cloud.zone,
            networkofferingid=off["id"],
            gateway="10.9.1.1",
            netmask="255.255.255.0",
        )
    )["network"]["id"]


async def test_console_websocket_over_a_real_server(app) -> None:  # noqa: ANN001
    import socket

    import uvicorn
    from virga.api.server import make_asgi
    from virga.cli.console import WebSocketChannel

    pytest.importorskip("websockets")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(make_asgi(app, manage=False), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.05)
        chan = await WebSocketChannel(f"ws://127.0.0.1:{port}/client/console?token=bogus").connect()
        assert await chan.recv() == b""
        assert "invalid or expired console token" in chan.close_reason
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
