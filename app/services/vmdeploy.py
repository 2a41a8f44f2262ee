"""Deploying a VM: the request's record (VM row in state Starting), then the deploy job (vmdeploy_job below)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam
from virga.context import Ctx
from virga.db import insert_row
from virga.jobs.pending import Pending
from virga.models import Network, VirtualMachine
from virga.services.rules import attach_security_groups
from virga.services.states import VmState

VMS = VirtualMachine.__table__  # type: ignore[attr-defined]
NAME_VM = (
    VMS.update()
    .where(VMS.c.id == bindparam("v"))
    .values(instancename=bindparam("i"), name=bindparam("n"), displayname=bindparam("d"))
)


def record(
    ctx: Ctx,
    row: dict[str, Any],
    name: str,
    displayname: str | None,
    nets: list[Network],
    securitygroupids: list[str] | None,
    params: dict[str, Any],
) -> Pending:
    """Record a validated VM in state Starting (a Core insert: deploy's hot path) and hand its job over.

    `row` holds the VM's columns; the instance name needs the id, so a second (Core) statement sets it.
    """
    vm = insert_row(ctx.db, VirtualMachine, {**row, "name": name or "pending", "state": VmState.STARTING})
    account_id = row["account_id"]
    ctx.db.connection().execute(
        NAME_VM,
        {"v": vm.id, "i": f"i-{account_id}-{vm.id}-VM", "n": name or vm.uuid, "d": displayname or name or vm.uuid},
    )
    attach_security_groups(ctx.db, vm, nets, securitygroupids)
    return Pending("VirtualMachine", vm.uuid, params)
