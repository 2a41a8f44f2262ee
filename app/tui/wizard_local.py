"""The wizard's "this machine" path: the checks and the build of `virga demo --real` as two wizard steps."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from virga.client import ApiError
from virga.tui.catalog.base import Field
from virga.tui.wizard_steps import State, Step, Values

if TYPE_CHECKING:
    from virga.tui.app import VirgaTUI

Say = Callable[[str], None]


def failure_text(exc: BaseException) -> str | None:
    """The text of a failure the real demo reports to its user (None: not one of those, a bug)."""
    from virga.cli.real.command import FAILURES

    if isinstance(exc, ApiError):
        return f"error {exc.code}: {exc.text}"
    return str(exc) if isinstance(exc, FAILURES) else None


def server_url(tui: VirgaTUI) -> str:
    """The server's URL for the prerequisite check ('' for the embedded server)."""
    return "" if tui.profile == "embedded" else str(tui.client.http.base_url)


async def check_machine(tui: VirgaTUI, values: Values, state: State, say: Say) -> None:
    """Check root, libvirt, QEMU, the NFS server and the guest image; raise PrerequisiteError naming the gaps."""
    from virga.cli.real import check as realcheck

    say("checking this machine: root, libvirt at qemu:///system, QEMU, an NFS server, the tiny guest image")
    for warning in await realcheck.check(server_url(tui)):
        say(f"note: {warning}")
    say("this machine has everything the sandbox needs")


async def build_sandbox(tui: VirgaTUI, values: Values, state: State, say: Say) -> None:
    """Build (or reuse) the zone on this machine's libvirt, the tiny guest template, a network and guests."""
    from virga.cli.real import build as realdemo

    ids: dict[str, Any] = await realdemo.build_real(tui.client, say, vms=int(values.get("vms") or 0))
    state["created"] = [
        f"zone {realdemo.ZONE}",
        f"template {realdemo.TEMPLATE}",
        f"network {realdemo.NETWORK}",
        *(f"vm {vm}" for vm in ids.get("vms", [])),
    ]


def count(text: str) -> str | None:
    """A guest count: 0 to 10."""
    return None if text.isdigit() and int(text) <= 10 else "a number from 0 to 10"


def local_steps() -> list[Step]:
    """The steps after choosing this machine's KVM: check it, then build the sandbox on it."""
    return [
        Step(
            "check",
            "Check this machine",
            (),
            lambda v, s: [],
            task=check_machine,
            help="The sandbox runs real guests here: it needs root, libvirt (qemu:///system), QEMU, "
            "an NFS server (nfs-ganesha) for secondary storage and the tiny guest image.",
        ),
        Step(
            "build",
            "Build the sandbox",
            (Field("vms", "Guests to start", "2", True, validate=count),),
            lambda v, s: [],
            task=build_sandbox,
            help="Like `virga demo --real`: zone sandbox-kvm (this machine's libvirt as its KVM host, a local "
            "primary pool, an NFS image store), the tiny guest template, an isolated network, guests.",
        ),
    ]
