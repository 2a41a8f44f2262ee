"""Boot time of the tiny guest through the KVM driver vs raw QEMU (TCG), and driver memory per guest.

Run as root with libvirtd/virtlogd running: .venv/bin/python bench/boot.py [runs]
"""

from __future__ import annotations

import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from virga.drivers.base import HostConnection, InstanceSpec, NicSpec, PoolSpec, TemplateSpec, VolumeSpec  # noqa: E402
from virga.drivers.libvirt import LibvirtDriver  # noqa: E402

from tests.libvirt import support  # noqa: E402

LOGIN = support.LOGIN


async def define(d: LibvirtDriver, pool: PoolSpec, tmpl: TemplateSpec, bridge: str) -> InstanceSpec:
    """Prepare a root overlay and define one guest."""
    vol = VolumeSpec(uuid=str(uuid.uuid4()), name="ROOT", size_bytes=64 << 20, pool=pool)
    info = await d.prepare_volume(vol, tmpl)
    vid = str(uuid.uuid4())
    nic = NicSpec(uuid="n", mac="02:00:00:be:" + vid[:2] + ":" + vid[2:4], ip=None, netmask=None, gateway=None,
                  network_uuid="n", bridge=bridge)
    spec = InstanceSpec(uuid=vid, name=f"virga-bench-{vid[:8]}", display_name="bench", cpus=1, cpu_mhz=0,
                        memory_mb=160, volumes=(replace(vol, path=info.path),), nics=(nic,))
    await d.create_instance(spec)
    return spec


async def driver_boot(d: LibvirtDriver, pool: PoolSpec, tmpl: TemplateSpec, bridge: str) -> float:
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
    cmd = ["qemu-system-x86_64", "-accel", "tcg", "-m", "160", "-nographic", "-nodefaults", "-serial", "stdio",
           "-net", "none", *args]
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
    print(f"driver memory per running guest: {used / n / 1024:.1f} KiB (tracemalloc), "
          f"{rss / n:.0f} KiB (max RSS growth), over {n} guests")
    for spec in specs:
        await d.destroy_instance(spec.uuid)
        await d.delete_volume(spec.volumes[0])


async def main(runs: int) -> None:
    """Measure and print the figures."""
    support.start_daemons()
    image = support.build_guest()
    tmpl = TemplateSpec(uuid=f"tiny-{image.parent.name}", name="virga-tiny", url=f"file://{image}")
    path = Path(tempfile.mkdtemp(prefix="virga-bench-", dir="/var/tmp"))
    os.chmod(path, 0o755)
    pool = PoolSpec(uuid=str(uuid.uuid4()), name=f"virga-bench-{path.name[-6:]}", kind="dir", url="", path=str(path))
    bridge = support.make_bridge()
    d = LibvirtDriver(HostConnection(url="qemu:///system", options={"console_log_dir": str(path)}))
    try:
        await d.connect()
        drv = [await driver_boot(d, pool, tmpl, bridge) for _ in range(runs)]
        overlay = path / "raw-overlay.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(image), str(overlay)],
                       check=True)
        disk = [raw_boot(["-drive", f"file={overlay},if=virtio"]) for _ in range(runs)]
        kern = [raw_boot(["-kernel", str(image.parent / "vmlinuz"), "-initrd", str(image.parent / "initrd.gz"),
                          "-append", "console=ttyS0 quiet loglevel=3"]) for _ in range(runs)]
        m_drv, m_disk, m_kern = (statistics.median(x) for x in (drv, disk, kern))
        print(f"driver define+start -> login (median of {runs}): {m_drv:.2f} s")
        for label, raw in (("same disk", m_disk), ("direct kernel", m_kern)):
            print(f"raw qemu -accel tcg, {label} -> login: {raw:.2f} s"
                  f"  (driver overhead {m_drv - raw:+.2f} s, x{m_drv / raw:.2f})")
        await memory_per_guest(d, pool, tmpl, bridge, 3)
    finally:
        await d.close()
        support.delete_bridge(bridge)
        support.drop_pool(pool.name, path)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5))
