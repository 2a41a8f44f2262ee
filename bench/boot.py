"""Boot time of the tiny guest (deployVirtualMachine, and the KVM driver alone) vs raw QEMU (TCG).

Figures: deployVirtualMachine -> login line (API, in-process management server, KVM host qemu:///system);
driver define+start -> login line without a NIC (what the raw baseline boots) and with a NIC on a bridge
where no DHCP server answers (the guest's DHCP client gives up after ~6 s); raw QEMU on the same disk
and by direct kernel boot; driver memory per running guest.
Run as root: .venv/bin/python bench/boot.py [runs] [--short]   (starts libvirtd/virtlogd when needed;
--short or BENCH_SHORT=1: one run, memory over one extra guest)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from virga.drivers.base import HostConnection, InstanceSpec, NicSpec, PoolSpec, TemplateSpec, VolumeSpec  # noqa: E402
from virga.drivers.libvirt import LibvirtDriver  # noqa: E402
from virga.drivers.libvirt.host import kvm_device_problem  # noqa: E402

from bench.support import kvm  # noqa: E402
from bench.support.short import add_short  # noqa: E402

LOGIN = kvm.LOGIN


async def define(d: LibvirtDriver, pool: PoolSpec, tmpl: TemplateSpec, bridge: str | None) -> InstanceSpec:
    """Prepare a root overlay and define one guest (with a NIC on the bridge, when given)."""
    vol = VolumeSpec(uuid=str(uuid.uuid4()), name="ROOT", size_bytes=64 << 20, pool=pool)
    info = await d.prepare_volume(vol, tmpl)
    vid = str(uuid.uuid4())
    nic = NicSpec(
        uuid="n",
        mac="02:00:00:be:" + vid[:2] + ":" + vid[2:4],
        ip=None,
        netmask=None,
        gateway=None,
        network_uuid="n",
        bridge=bridge,
    )
    spec = InstanceSpec(
        uuid=vid,
        name=f"virga-bench-{vid[:8]}",
        display_name="bench",
        cpus=1,
        cpu_mhz=0,
        memory_mb=160,
        volumes=(replace(vol, path=info.path),),
        nics=(nic,) if bridge else (),
    )
    await d.create_instance(spec)
    return spec


async def driver_boot(d: LibvirtDriver, pool: PoolSpec, tmpl: TemplateSpec, bridge: str | None) -> float:
    """Seconds from define to the login line, through the driver."""
    t0 = time.monotonic()
    spec = await define(d, pool, tmpl, bridge)
    console = await d.start_with_console(spec.uuid)
    await console.wait_for(LOGIN, 300)
    elapsed = time.monotonic() - t0
    await console.close()
    await d.destroy_instance(spec.uuid)
    await d.delete_volume(spec.volumes[0])
    return elapsed


def raw_boot(args: list[str]) -> float:
    """Seconds from exec of qemu-system-x86_64 -accel tcg to the login line."""
    cmd = [
        "qemu-system-x86_64",
        "-accel",
        "tcg",
        "-m",
        "160",
        "-nographic",
        "-nodefaults",
        "-serial",
        "stdio",
        "-net",
        "none",
        *args,
    ]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    buf = b""
    assert proc.stdout is not None
    while LOGIN not in buf:
        chunk = proc.stdout.read1(4096)
        if not chunk:
            raise RuntimeError("qemu exited before the login line")
        buf += chunk
    elapsed = time.monotonic() - t0
    proc.kill()
    proc.wait()
    return elapsed


async def memory_per_guest(d: LibvirtDriver, pool: PoolSpec, tmpl: TemplateSpec, bridge: str, n: int) -> None:
    """Python memory the driver holds per running guest (tracemalloc and RSS)."""
    specs = [await define(d, pool, tmpl, bridge) for _ in range(1)]
    await d.start_instance(specs[0].uuid)
    await d.get_instance(specs[0].uuid)
    await d.instance_stats(specs[0].uuid)
    tracemalloc.start()
    base, rss0 = tracemalloc.get_traced_memory()[0], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(n):
        spec = await define(d, pool, tmpl, bridge)
        await d.start_instance(spec.uuid)
        await d.instance_stats(spec.uuid)
        specs.append(spec)
    await d.list_instances()
    used = tracemalloc.get_traced_memory()[0] - base
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0
    tracemalloc.stop()
    print(
        f"driver memory per running guest: {used / n / 1024:.1f} KiB (tracemalloc), "
        f"{rss / n:.0f} KiB (max RSS growth), over {n} guests"
    )
    for spec in specs:
        await d.destroy_instance(spec.uuid)
        await d.delete_volume(spec.volumes[0])


def dhcp_on(bridge: str, gateway: str = "10.77.1.1") -> tuple[str, subprocess.Popen[bytes]]:
    """A DHCP server (dnsmasq in a namespace of its own, a veth into the bridge), like a virtual router's."""
    ns = f"vgb{uuid.uuid4().hex[:6]}"
    outer, inner = f"{ns}o", f"{ns}i"
    for cmd in (
        ["ip", "netns", "add", ns],
        ["ip", "link", "add", outer, "type", "veth", "peer", "name", inner],
        ["ip", "link", "set", outer, "master", bridge, "up"],
        ["ip", "link", "set", inner, "netns", ns],
        ["ip", "-n", ns, "addr", "add", f"{gateway}/24", "dev", inner],
        ["ip", "-n", ns, "link", "set", inner, "up"],
    ):
        subprocess.run(cmd, check=True)
    base = gateway.rsplit(".", 1)[0]
    proc = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            ns,
            "dnsmasq",
            "--no-daemon",
            "--port=0",
            "--bind-interfaces",
            f"--interface={inner}",
            f"--dhcp-range={base}.50,{base}.200,1h",
            f"--dhcp-leasefile=/tmp/{ns}.leases",
            "--no-resolv",
            "--no-hosts",
            "--no-ping",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return ns, proc


def dhcp_off(ns: str, proc: subprocess.Popen[bytes]) -> None:
    """Stop the DHCP server and remove its namespace and veth."""
    proc.terminate()
    proc.wait()
    subprocess.run(["ip", "link", "del", f"{ns}o"], check=False, capture_output=True)
    subprocess.run(["ip", "netns", "del", ns], check=False)
    Path(f"/tmp/{ns}.leases").unlink(missing_ok=True)


async def wait_in_file(path: Path, pattern: bytes, timeout: float) -> None:
    """Poll a file (every 20 ms) until it contains the pattern."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if pattern in path.read_bytes():
                return
        except OSError:
            pass
        await asyncio.sleep(0.02)
    raise TimeoutError(f"{pattern!r} did not show up in {path}")


@asynccontextmanager
async def api_site(image: Path) -> AsyncIterator[Callable[[int], Awaitable[float]]]:
    """An in-process management server with a KVM host (qemu:///system) and a DHCP server on the guest
    network; yields boot(i): seconds from deployVirtualMachine to the login line (then expunges the VM)."""
    from virga.api.server import make_asgi
    from virga.client import VirgaClient
    from virga.config import Settings
    from virga.core import VirgaApp

    from bench.support.cloud import build_sim_cloud, make_user

    tmp = Path(tempfile.mkdtemp(prefix="virga-bench-api-", dir="/var/tmp"))
    pool_dir = tmp / "pool"
    pool_dir.mkdir()
    for p in (tmp, pool_dir):
        os.chmod(p, 0o755)
    app = VirgaApp(Settings(db_url=f"sqlite:///{tmp}/virga.db", workers=8, sync_interval=3600))
    await app.start()
    admin = VirgaClient(asgi=make_asgi(app, manage=False), creds=make_user(app, "admin"))
    site, dhcp = None, None

    async def boot(i: int) -> float:
        """Deploy one guest, wait for its login line in the console log, expunge it."""
        assert site is not None
        t0 = time.monotonic()
        vm = (
            await admin.run(
                "deployVirtualMachine",
                zoneid=cloud.zone,
                templateid=site.template,
                serviceofferingid=site.offering,
                networkids=site.network,
                hostid=site.host,
                name=f"bench-{i}",
            )
        )["virtualmachine"]
        JOBS.append(time.monotonic() - t0)
        await wait_in_file(Path("/var/log/libvirt/qemu") / f"{vm['instancename']}.console.log", LOGIN, 300)
        elapsed = time.monotonic() - t0
        await admin.run("destroyVirtualMachine", id=vm["id"], expunge=True)
        return elapsed

    try:
        cloud = build_sim_cloud(app)
        site = await kvm.kvm_site(app, admin, cloud, image, pool_dir)
        await tcg_only(app, site.host)
        dhcp = dhcp_on(site.bridge)
        yield boot
    finally:
        await admin.close()
        await app.stop()
        if dhcp is not None:
            dhcp_off(*dhcp)
        if site is not None:
            kvm.delete_bridge(site.bridge)
        kvm.drop_pool(kvm.pool_name(pool_dir), pool_dir)  # the libvirt pool virga defined on the KVM host
        shutil.rmtree(tmp, ignore_errors=True)


JOBS: list[float] = []
TCG = {"domain_type": "qemu"}  # what every figure here is measured with, KVM or not (the raw baseline is TCG)


async def tcg_only(app: object, host_uuid: str) -> None:
    """Make the management server's KVM host start its guests under TCG, like the driver and raw figures."""
    from sqlmodel import select
    from virga.core import VirgaApp
    from virga.models import Host

    assert isinstance(app, VirgaApp)
    with app.db.session() as s:
        host = s.exec(select(Host).where(Host.uuid == host_uuid)).one()
        host.options = {**(host.options or {}), **TCG}
        s.add(host)
        s.commit()
        host_id = host.id or 0
    await app.hosts.drop(host_id)  # reconnect with the option


async def main(runs: int, guests: int) -> None:
    """Measure and print the figures."""
    problem = kvm_device_problem()
    kvm.start_daemons()  # also gives /dev/kvm back to group kvm (see kvm_device_problem)
    if problem:
        print(f"fixed: {problem}")
    image = kvm.build_guest()
    tmpl = TemplateSpec(uuid=f"tiny-{image.parent.name}", name="virga-tiny", url=f"file://{image}")
    path = Path(tempfile.mkdtemp(prefix="virga-bench-", dir="/var/tmp"))
    os.chmod(path, 0o755)
    pool = PoolSpec(uuid=str(uuid.uuid4()), name=f"virga-bench-{path.name[-6:]}", kind="dir", url="", path=str(path))
    bridge = kvm.make_bridge()
    d = LibvirtDriver(HostConnection(url="qemu:///system", options={"console_log_dir": str(path), **TCG}))
    api: list[float] = []
    drv: list[float] = []
    nic: list[float] = []
    disk: list[float] = []
    kern: list[float] = []
    try:
        await d.connect()
        overlay = path / "raw-overlay.qcow2"
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(image), str(overlay)], check=True
        )
        async with api_site(image) as api_boot:
            for i in range(runs):  # interleaved, so that load changes hit every variant alike
                api.append(await api_boot(i))
                drv.append(await driver_boot(d, pool, tmpl, None))
                nic.append(await driver_boot(d, pool, tmpl, bridge))
                disk.append(raw_boot(["-drive", f"file={overlay},if=virtio"]))
                kern.append(
                    raw_boot(
                        [
                            "-kernel",
                            str(image.parent / "vmlinuz"),
                            "-initrd",
                            str(image.parent / "initrd.gz"),
                            "-append",
                            "console=ttyS0 quiet loglevel=3",
                        ]
                    )
                )
        print(f"deployVirtualMachine job done (VM Running), median: {statistics.median(JOBS):.2f} s")
        m_api, m_drv, m_nic, m_disk, m_kern = (statistics.median(x) for x in (api, drv, nic, disk, kern))
        print(f"medians of {runs} runs (TCG; the machine may be loaded: see `uptime`)")
        print(f"raw qemu -accel tcg, direct kernel -> login: {m_kern:.2f} s   (the baseline)")
        print(f"raw qemu -accel tcg, same disk (BIOS+syslinux) -> login: {m_disk:.2f} s  ({m_disk - m_kern:+.2f} s)")
        print(
            f"driver define+start, no NIC -> login: {m_drv:.2f} s  ({m_drv - m_kern:+.2f} s vs baseline, "
            f"{m_drv - m_disk:+.2f} s vs same disk)"
        )
        print(f"driver define+start, NIC without DHCP server -> login: {m_nic:.2f} s  ({m_nic - m_kern:+.2f} s)")
        print(
            f"deployVirtualMachine (API, NIC with DHCP) -> login: {m_api:.2f} s  ({m_api - m_kern:+.2f} s vs "
            f"baseline, {m_api - m_disk:+.2f} s vs same disk)"
        )
        await memory_per_guest(d, pool, tmpl, bridge, guests)
    finally:
        await d.close()
        kvm.delete_bridge(bridge)
        kvm.drop_pool(pool.name, path)


def cli() -> None:
    """Parse the command line (runs, --guests, --short) and run."""
    ap = argparse.ArgumentParser(description="boot time of the tiny guest, through the API and the driver")
    ap.add_argument("runs", type=int, nargs="?", default=5)
    ap.add_argument("--guests", type=int, default=3, help="extra running guests the memory figure is taken over")
    add_short(ap, runs=1, guests=1)
    a = ap.parse_args()
    asyncio.run(main(a.runs, a.guests))


if __name__ == "__main__":
    cli()
