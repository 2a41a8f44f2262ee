"""API benchmark: N simulated hosts and M VMs; list latencies, deploy throughput, idle memory.

Seeding writes the hosts and VMs straight into the database (creating 50,000 VMs through the API first
would measure deploy throughput 50,000 times); every measured call goes over HTTP to `virga serve`.
Usage: python bench/api.py [--hosts 10000] [--vms 50000] [--clients 50] [--deploys 1000] [--runs 7]
       [--deploy-runs 5] [--short]   (--short or BENCH_SHORT=1: 200 hosts, 1,000 VMs, 5 clients, 100 deploys)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import insert
from sqlmodel import select
from virga.client import Credentials, VirgaClient
from virga.config import Settings
from virga.core import VirgaApp
from virga.models import Account, Host, Network, Nic, ServiceOffering, StoragePool, VirtualMachine, Volume

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.support.cloud import build_sim_cloud, make_network  # noqa: E402
from bench.support.short import add_short  # noqa: E402


def seed(db_url: str, hosts: int, vms: int) -> dict[str, str]:
    """Create a simulator zone with `hosts` hosts and `vms` Running VMs (rows only) in the database."""

    async def main() -> dict[str, str]:
        app = VirgaApp(Settings(db_url=db_url, workers=1))
        await app.start()
        cloud = build_sim_cloud(app, hosts=1, public_ips=50)
        net_uuid = make_network(app, cloud.zone, "admin", cidr="10.0.0.0/16", name="bench-net")
        with app.db.session() as s:
            h0 = s.exec(select(Host)).one()
            rows = [
                dict(
                    uuid=f"00000000-0000-4000-8000-{i:012d}",
                    name=f"bench-host-{i}",
                    zone_id=h0.zone_id,
                    pod_id=h0.pod_id,
                    cluster_id=h0.cluster_id,
                    hypervisor="Simulator",
                    state="Up",
                    url=f"simulator://bench-host-{i}",
                    cpunumber=64,
                    cpuspeed=2400,
                    memorytotal=512 * 2**30,
                    created=h0.created,
                    resourcestate="Enabled",
                    type="Routing",
                    options={},
                )
                for i in range(1, hosts)
            ]
            s.execute(insert(Host), rows)  # type: ignore[call-overload]
            acct = s.exec(select(Account).where(Account.name == "admin")).one()
            off = s.exec(select(ServiceOffering).where(ServiceOffering.name == "Small Instance")).one()
            net = s.exec(select(Network).where(Network.uuid == net_uuid)).one()
            net.state = "Implemented"
            for pool in s.exec(select(StoragePool)):  # room for long deploy runs (2 GB ROOT disks)
                pool.capacitybytes = 2**50
                s.add(pool)
            host_ids = [h for h in s.exec(select(Host.id))]
            tmpl_id = s.exec(select(VirtualMachine.template_id)).first()
            from virga.models import Template

            tmpl_id = s.exec(select(Template.id)).first()
            vm_rows = [
                dict(
                    uuid=f"10000000-0000-4000-8000-{i:012d}",
                    name=f"vm-{i}",
                    displayname=f"vm-{i}",
                    instancename=f"i-2-{i}-VM",
                    state="Running",
                    account_id=acct.id,
                    domain_id=acct.domain_id,
                    zone_id=h0.zone_id,
                    host_id=host_ids[i % len(host_ids)],
                    template_id=tmpl_id,
                    serviceoffering_id=off.id,
                    cpunumber=1,
                    cpuspeed=500,
                    memory=512,
                    hypervisor="Simulator",
                    created=h0.created,
                    details={},
                )
                for i in range(vms)
            ]
            s.execute(insert(VirtualMachine), vm_rows)  # type: ignore[call-overload]
            first = s.exec(select(VirtualMachine.id).order_by(VirtualMachine.id)).first() or 0
            s.execute(
                insert(Nic),
                [
                    dict(
                        uuid=f"20000000-0000-4000-8000-{i:012d}",
                        vm_id=first + i,  # type: ignore[call-overload]
                        network_id=net.id,
                        ipaddress=f"10.0.{(i + 2) // 256}.{(i + 2) % 256}",
                        ip_int=0x0A000000 + i + 2,
                        netmask="255.255.0.0",
                        gateway="10.0.0.1",
                        macaddress=f"02:00:00:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}",
                        created=h0.created,
                    )
                    for i in range(vms)
                ],
            )
            s.execute(
                insert(Volume),
                [
                    dict(
                        uuid=f"30000000-0000-4000-8000-{i:012d}",
                        name=f"ROOT-{i}",  # type: ignore[call-overload]
                        type="ROOT",
                        zone_id=h0.zone_id,
                        vm_id=first + i,
                        size=2 * 2**30,
                        account_id=acct.id,
                        domain_id=acct.domain_id,
                        state="Ready",
                        created=h0.created,
                    )
                    for i in range(vms)
                ],
            )
            net.next_ip = 0x0A000000 + vms + 2
            s.add(net)
            s.commit()
        await app.stop()
        return {"zone": cloud.zone, "template": cloud.template, "network": net_uuid, "offering": off.uuid}

    return asyncio.run(main())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (a figure a loaded machine distorts less than rates)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def timed_lists(client: VirgaClient, runs: int) -> dict[str, float]:
    """Median latency (ms) of the list calls."""
    out = {}
    for cmd, params in (
        ("listVirtualMachines", {"pagesize": 500, "page": 1, "listall": True}),
        ("listHosts", {"pagesize": 500, "page": 1}),
        ("listVirtualMachines", {"pagesize": 500, "page": 50, "listall": True}),
    ):
        samples = []
        for _ in range(runs):
            t = time.perf_counter()
            body = await client.call(cmd, **params)
            samples.append((time.perf_counter() - t) * 1000)
            assert body.get("count", 0) > 0
        out[f"{cmd} {params}"] = statistics.median(samples)
    return out


async def deploys(
    client: VirgaClient, ids: dict[str, str], clients: int, total: int, tag: int = 0
) -> tuple[float, float]:
    """VMs per second deployed (job finished, Running) by `clients` concurrent clients, and API calls per VM.

    Each client is its own VirgaClient (its own keep-alive connection), as separate users' tools would be.
    """
    per = total // clients
    calls = 0

    async def one(worker: int) -> None:
        nonlocal calls
        mine = client.as_user(client.creds)
        send = mine.call

        async def counted(command: str, **params: object) -> dict:
            """client.call, counted."""
            nonlocal calls
            calls += 1
            return await send(command, **params)

        mine.call = counted  # type: ignore[method-assign]
        try:
            for i in range(per):
                body = await mine.call(
                    "deployVirtualMachine",
                    zoneid=ids["zone"],
                    templateid=ids["template"],
                    serviceofferingid=ids["offering"],
                    networkids=ids["network"],
                    name=f"d{tag}-{worker}-{i}",
                )
                await mine.wait(body["jobid"], interval=0.02)
        finally:
            await mine.close()

    t = time.perf_counter()
    await asyncio.gather(*(one(w) for w in range(clients)))
    rate = per * clients / (time.perf_counter() - t)
    return rate, calls / (per * clients)


def main() -> None:
    """Seed, serve, measure, print."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=10000)
    ap.add_argument("--vms", type=int, default=50000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--deploys", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--deploy-runs", type=int, default=5)
    add_short(ap, hosts=200, vms=1000, clients=5, deploys=100, runs=2, deploy_runs=1)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="virga-bench-")
    env = {**os.environ, "VIRGA_DATA_DIR": tmp, "VIRGA_CONFIG_DIR": tmp, "VIRGA_SYNC_INTERVAL": "100000"}
    t = time.perf_counter()
    ids = seed(f"sqlite:///{tmp}/virga.db", a.hosts, a.vms)
    print(f"seeded {a.hosts} hosts, {a.vms} VMs in {time.perf_counter() - t:.1f} s")
    creds = json.loads(
        subprocess.run(
            [sys.executable, "-m", "virga.cli.main", "init", "--print-json"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "virga.cli.main", "serve", "--port", str(port)], env=env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(400):
        try:
            httpx.get(url + "/client/api", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.05)
    try:
        time.sleep(1.0)
        idle = rss_mb(proc.pid)

        async def measure() -> tuple[dict[str, float], list[tuple[float, float, float, float]]]:
            client = VirgaClient(url, Credentials(apikey=creds["apikey"], secretkey=creds["secretkey"]))
            lists = await timed_lists(client, a.runs)
            rounds = []
            for n in range(a.deploy_runs):
                before, mine = cpu_seconds(proc.pid), time.process_time()
                rate, calls = await deploys(client, ids, a.clients, a.deploys, n)
                rounds.append(
                    (
                        rate,
                        calls,
                        (cpu_seconds(proc.pid) - before) * 1000 / a.deploys,
                        (time.process_time() - mine) * 1000 / a.deploys,
                    )
                )
            await client.close()
            return lists, rounds

        lists, rounds = asyncio.run(measure())
        print(f"idle RSS of the management server: {idle:.0f} MB (target < 150 MB)")
        for name, ms in lists.items():
            print(f"{name}: median {ms:.1f} ms over {a.runs} runs (target < 100 ms)")
        rates = [r[0] for r in rounds]
        print(
            f"deploy throughput, {a.clients} concurrent clients, {a.deploys} VMs per run: median "
            f"{statistics.median(rates):.0f} VMs/s over {len(rates)} runs "
            f"({', '.join(f'{r:.0f}' for r in rates)}; target >= 200)"
        )
        print(
            f"management server CPU per deployed VM (API calls, polls and job): "
            f"{statistics.median(r[2] for r in rounds):.1f} ms "
            f"({statistics.median(r[1] for r in rounds):.1f} API calls per VM: deploy + queryAsyncJobResult polls)"
        )
        print(
            f"benchmark client CPU per deployed VM (signing, HTTP, JSON; same machine): "
            f"{statistics.median(r[3] for r in rounds):.1f} ms"
        )
        print(f"load average (1 min) at the end: {os.getloadavg()[0]:.2f} (2 cores; other work skews the figures)")
        print(f"RSS after the deploys: {rss_mb(proc.pid):.0f} MB")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
