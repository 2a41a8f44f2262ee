"""Kill the management server while 50 deploys are queued or running; after restart nothing is half-made."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from cs import CloudStack

from tests.api.test_cs_client import VIRGA, _free_port, build_zone


def _start(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [*VIRGA, "serve", "--port", str(port)], env=env, text=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    import requests

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/client/api", timeout=2)
            return proc
        except requests.RequestException:  # refused while starting, or slow on a loaded machine
            time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise RuntimeError("virga serve did not come up within 60 s")


def test_restart_mid_deploys(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    env = {
        **os.environ,
        "VIRGA_DATA_DIR": str(tmp_path / "d"),
        "VIRGA_CONFIG_DIR": str(tmp_path / "c"),
        "VIRGA_JOB_WORKERS": "10",
    }
    creds = json.loads(
        subprocess.run([*VIRGA, "init", "--print-json"], env=env, check=True, capture_output=True, text=True).stdout
    )
    port = _free_port()
    proc = _start(env, port)
    try:
        _interrupt_deploys(env, port, creds, proc)
    finally:
        proc.kill()
        proc.wait()


def _interrupt_deploys(env: dict[str, str], port: int, creds: dict[str, str], proc: subprocess.Popen[str]) -> None:
    """Queue 50 deploys, SIGKILL the server mid-way, restart it and check every VM is whole or gone."""
    cs = CloudStack(
        endpoint=f"http://127.0.0.1:{port}/client/api",
        key=creds["apikey"],
        secret=creds["secretkey"],
        fetch_result=True,
        job_timeout=120,
        poll_interval=0.05,
    )
    z = build_zone(cs)
    cs.configureSimulator(zoneid=z["zone"], name="start_instance", value="wait:3000")
    async_cs = CloudStack(endpoint=cs.endpoint, key=cs.key, secret=cs.secret)
    jobs = [
        async_cs.deployVirtualMachine(
            zoneid=z["zone"],
            templateid=z["template"],
            name=f"r-{i}",
            serviceofferingid=z["offering"],
            networkids=z["network"],
        )["jobid"]
        for i in range(50)
    ]
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc = _start(env, port)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            states = [async_cs.queryAsyncJobResult(jobid=j)["jobstatus"] for j in jobs]
            if 0 not in states:
                break
            time.sleep(0.2)
        assert 0 not in states, "jobs still pending after restart"
        assert states.count(2) >= 1, "the kill should have interrupted at least one running deploy"
        assert states.count(1) >= 1, "queued deploys should have resumed after the restart"
        vms = cs.listVirtualMachines(listall=True, keyword="r-", fetch_list=True)
        assert all(v["state"] == "Running" for v in vms), {v["name"]: v["state"] for v in vms}
        assert len(vms) == states.count(1)
        for v in vms:
            assert len(v["nic"]) == 1 and v["nic"][0]["ipaddress"]
            vols = cs.listVolumes(virtualmachineid=v["id"], listall=True)["volume"]
            assert [x["type"] for x in vols] == ["ROOT"]
        hosts = cs.listHosts(fetch_list=True)
        allocated = sum(int(h["cpuallocatedvalue"]) for h in hosts)
        assert allocated == sum(v["cpunumber"] * v["cpuspeed"] for v in vms)
        all_vols = cs.listVolumes(listall=True, fetch_list=True)
        assert len([x for x in all_vols if x["type"] == "ROOT"]) == len(vms)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
