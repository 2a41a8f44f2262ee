"""End to end: the real `virga` command in tmux, embedded and against `virga serve` over HTTP with --url.

Wizard on the simulator (empty cloud; it registers the simulator's template) -> the template ready ->
deploy 3 VMs -> see them Running -> stop one -> destroy one -> quit. At 80x24: the wizard with a mistake
corrected, a deploy, the detail view and its related volumes, the breadcrumb back, sort and copy.
Every wait polls the screen with a deadline; the final states are read back through the API (`virga api`),
not from the screen alone.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.tmux import Tmux, clean_env, free_port, virga_cmd
from tests.support import need

WIZARD_STEPS = (
    "Zone",
    "Physical network and public IPs",
    "Pod",
    "Cluster",
    "Hosts",
    "Primary storage",
    "Secondary storage",
    "Review and launch",
)


@pytest.fixture
def term() -> Iterator[Tmux]:
    """A private tmux server, killed at the end whatever happens."""
    need(shutil.which("tmux"), "tmux is not installed (apt-get install tmux)")
    t = Tmux()
    try:
        yield t
    finally:
        t.close()


def row(name: str, state: str) -> str:
    """A regex for a table row showing a VM/template name in a state."""
    return rf"(?m)^\W*{re.escape(name)}\s+{state}\b"


def run_wizard(t: Tmux) -> None:
    """Accept every default of the sandbox wizard, step by step, and launch the zone."""
    t.wait(r"Step 1: What to build", 60, "the setup wizard on an empty cloud")
    for n, title in enumerate(WIZARD_STEPS, start=2):
        t.keys("C-n")
        t.wait(rf"Step {n}: {re.escape(title)}", 30)
    t.keys("C-n")
    t.wait(r"Zone enabled\.", 30)
    t.wait(r"imagestore secondary-1", 15)


def prompt(t: Tmux, mode: str, text: str = "", shown: str = "") -> None:
    """Open the `:`/`/` prompt, wait until it shows `shown` (it has the focus then), type text into it."""
    t.keys(mode)
    t.wait(rf"(?m)^ {re.escape(mode + shown)}\s*$", 10, f"the {mode}{shown} prompt")
    if text:
        t.keys("-l", text)
        t.wait(rf"(?m)^ {re.escape(mode + shown + text)}\s*$", 10, f"{mode}{shown}{text} in the prompt")


def jump(t: Tmux, word: str, title: str) -> None:
    """`:word` Enter, then wait for the screen's title in the header."""
    prompt(t, ":", word)
    t.keys("Enter")
    t.wait(rf"virga — (\S.* › )?{re.escape(title)} ·", 10, f"the {title} view in the header")


def template_ready(t: Tmux) -> None:
    """The wizard registered the simulated tiny template: the Templates view shows it ready."""
    jump(t, "tmpl", "Templates")
    t.wait(row("tiny-linux", r"(Ready|Download Complete)"), 60, "the template ready")


def create_network(t: Tmux) -> None:
    """Create an isolated guest network (the first offering) from the Networks screen."""
    jump(t, "net", "Networks")
    t.keys("n")
    t.wait(r"Create \(createNetwork\)", 10)
    t.wait(r"DefaultIsolatedNetworkOffering", 10, "the offerings loaded")
    t.type("web-net")
    t.focus_input()
    t.type("Web network")
    t.keys("C-s")
    t.wait(row("web-net", r"\w+"), 30, "the network in the table")


def deploy_three(t: Tmux) -> None:
    """Deploy web-1..3 with the form's count field and wait until all three are Running."""
    jump(t, "vm", "Instances")
    t.keys("n")
    t.wait(r"Deploy \(deployVirtualMachine\)", 10)
    t.wait(r"tiny-linux|no GUI \(Simulator\)", 10, "the template choices loaded")
    t.focus_input(5)  # zone, template, offering, network, ssh key -> name
    t.type("web")
    t.focus_input()
    t.keys("BSpace", pace=0.3)
    t.type("3")
    t.keys("C-s")
    t.wait(lambda s: all(re.search(row(f"web-{i}", "Running"), s) for i in (1, 2, 3)), 60, "3 VMs Running")


def act_on(t: Tmux, name: str, key: str, state: str) -> None:
    """Filter the table to one VM, run an action on it with confirmation, wait for its new state."""
    prompt(t, "/", name)
    t.keys("Enter")  # the table filters while typing: wait for the prompt to close too, or keys land in it
    t.wait(lambda s: re.search(r"1/\d+ instances", s) and not re.search(r"(?m)^ /", s), 10, f"the filter on {name}")
    t.keys(key)
    t.wait(r"\?", 15)
    t.wait(re.escape(name) + r"\?", 10, "the confirmation")
    t.keys("y")
    t.wait(row(name, state), 60)
    prompt(t, "/", shown=name)  # `/` shows the filter in force; Esc clears it
    t.keys("Escape")
    t.wait(lambda s: "3/3 instances" in s and not re.search(r"(?m)^ /", s), 10, "the filter cleared")


def tour(t: Tmux) -> None:
    """The whole tour, ending with `q` and a clean exit."""
    run_wizard(t)
    t.keys("Escape")
    t.wait(r"virga — Dashboard ·", 10, "back on the dashboard")
    template_ready(t)
    create_network(t)
    deploy_three(t)
    act_on(t, "web-1", "S", "Stopped")
    act_on(t, "web-2", "d", "(Destroyed|Expunging)")
    screen = t.screen()
    assert re.search(row("web-3", "Running"), screen), screen
    t.keys("q")
    t.wait(r"EXIT=0", 20, "a clean exit")
    assert "Traceback" not in t.screen()


def test_small_terminal_journey(tmp_path: Path) -> None:
    """80x24: the wizard refuses a pod range inside the public range, then builds the zone; a VM is deployed,
    its detail view leads to its volumes; Esc walks the breadcrumb back; the table sorts and copies an id."""
    need(shutil.which("tmux"), "tmux is not installed (apt-get install tmux)")
    import os

    t = Tmux(80, 24)
    try:
        env = clean_env(tmp_path / "data", tmp_path / "config")
        t.start([virga_cmd()], env)
        t.wait(r"Step 1: What to build", 60, "the setup wizard on an empty cloud")
        for n, title in enumerate(WIZARD_STEPS[:3], start=2):
            t.keys("C-n")
            t.wait(rf"Step {n}: {re.escape(title)}", 30)
        # the pod page: a reserved range inside the public range (198.51.100.10-99) is refused before any call
        t.focus_input()  # name -> gateway (each field selects its text on focus: typing replaces it)
        t.type("198.51.100.1")
        t.focus_input(2)  # -> netmask -> first reserved IP
        t.type("198.51.100.50")
        t.focus_input()
        t.type("198.51.100.60")
        t.keys("C-n")
        t.wait(r"inside the public range", 15, "the pod range refused")
        t.keys("BTab", "BTab", "BTab", pace=0.4)  # back to the gateway
        t.type("172.16.0.1")
        t.focus_input(2)
        t.type("172.16.0.10")
        t.focus_input()
        t.type("172.16.0.200")
        for n, title in enumerate(WIZARD_STEPS[3:], start=5):
            t.keys("C-n")
            t.wait(rf"Step {n}: {re.escape(title)}", 30)
        t.wait(r"198\.51\.100\.10-198\.51\.100\.99 gw", 10, "the review")
        t.keys("C-n")
        t.wait(r"Zone enabled\.", 60)
        t.keys("Escape")
        t.wait(r"virga — Dashboard ·", 10, "back on the dashboard")
        t.wait(r"(?m)^ ?\? Help q Quit : Jump / Filter", 10, "the footer's first keys at 80 columns")
        template_ready(t)
        create_network(t)
        jump(t, "vm", "Instances")
        t.keys("n")
        t.wait(r"Deploy \(deployVirtualMachine\)", 10)
        t.wait(r"tiny-linux|no GUI \(Simulator\)", 10, "the template choices loaded")
        t.focus_input(5)
        t.type("small-1")
        t.keys("C-s")
        t.wait(row("small-1", "Running"), 60, "the VM Running")
        t.keys("Enter")
        t.wait(r"Related · actions", 10, "the VM's detail view")
        t.wait(r"1\s+Volumes\s+1", 15, "its volume counted")
        t.keys("1")
        t.wait(r"Volumes of small-1", 10)
        t.wait(r"ROOT-\d+", 15, "its root volume")
        t.keys("Escape")
        t.wait(r"Related · actions", 10, "back on the detail view")
        t.keys("Escape")
        t.wait(r"virga — Dashboard › Instances ·", 10, "back on the instances")
        t.keys("o")
        t.wait(r"NAME ▲", 10, "sorted by name")
        t.keys("y")
        t.wait(r"copied id [0-9a-f-]{36}", 10, "the id copied")
        t.keys("q")
        t.wait(r"EXIT=0", 20, "a clean exit")
        assert "Traceback" not in t.screen()
        states = api_states({**os.environ, **env})
        assert states == {"small-1": "Running"}, states
    finally:
        t.close()


def api_states(env: dict[str, str], *extra: str) -> dict[str, str]:
    """name -> state of every VM, read with `virga api` (the same credentials as the TUI)."""
    out = subprocess.run(
        [virga_cmd(), *extra, "api", "listVirtualMachines", "listall=true", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return {vm["name"]: vm["state"] for vm in json.loads(out.stdout).get("virtualmachine", [])}


def check_states(states: dict[str, str]) -> None:
    """web-1 stopped, web-2 destroyed, web-3 running."""
    assert states["web-1"] == "Stopped", states
    assert states.get("web-2", "Destroyed") in ("Destroyed", "Expunging", "Expunged"), states
    assert states["web-3"] == "Running", states


def test_embedded_tui_tour(term: Tmux, tmp_path: Path) -> None:
    """`virga` with no arguments: embedded server in a fresh data dir, wizard first."""
    env = clean_env(tmp_path / "data", tmp_path / "config")
    term.start([virga_cmd()], env)
    tour(term)
    import os

    check_states(api_states({**os.environ, **env}))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`virga init` then `virga serve` on a free loopback port; yields its URL and the admin's keys."""
    import os

    env = {**os.environ, **clean_env(tmp_path / "srv-data", tmp_path / "srv-config")}
    init = subprocess.run(
        [virga_cmd(), "init", "--print-json"], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    keys = json.loads(init.stdout.strip().splitlines()[-1])
    port = free_port()
    proc = subprocess.Popen(
        [virga_cmd(), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/client/api"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url, params={"command": "listCapabilities", "response": "json"}, timeout=2)
                break
            except httpx.TransportError as err:
                if proc.poll() is not None or time.monotonic() > deadline:
                    why = proc.stderr.read() if proc.stderr else ""
                    raise RuntimeError(f"virga serve did not start: {why!r}") from err
                time.sleep(0.2)
        yield url, keys
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_remote_tui_tour(term: Tmux, tmp_path: Path, server: tuple[str, dict[str, str]]) -> None:
    """`virga --url URL --profile lab`: the same tour against a `virga serve` over HTTP with API keys."""
    import os

    url, keys = server
    env = clean_env(tmp_path / "cli-data", tmp_path / "cli-config")
    full = {**os.environ, **env}
    subprocess.run(
        [virga_cmd(), "profile", "add", "lab", url, keys["apikey"], keys["secretkey"]], env=full, check=True, timeout=60
    )
    term.start([virga_cmd(), "--url", url, "--profile", "lab"], env)
    tour(term)
    check_states(api_states(full, "--url", url, "--profile", "lab"))
    assert not (tmp_path / "cli-data" / "virga.db").exists(), "the remote TUI must not start an embedded server"
