"""Ids given in a list parameter are authorised one by one, exactly like a single id."""

from __future__ import annotations

from typing import Any

from virga.errors import InvalidParameter
from virga.models import VirtualMachine, Volume


def owned(ctx: Any, model: type, uuids: list[str] | None, param: str) -> list[Any]:
    """Every row a list of ids names: each must exist, be visible (431) and be the caller's to change (531)."""
    rows = []
    for uuid in uuids or []:
        row = ctx.get(model, uuid, param)
        ctx.require(row, f"{model.__name__} {uuid}")
        rows.append(row)
    return rows


def vm_data_volumes(ctx: Any, vm: VirtualMachine, uuids: list[str] | None) -> list[str]:
    """destroyVirtualMachine volumeids: the caller's DATADISK volumes attached to this VM, else refused (431/531)."""
    vols: list[Volume] = owned(ctx, Volume, uuids, "volumeids")
    for vol in vols:
        if vol.vm_id != vm.id:
            raise InvalidParameter(f"Volume {vol.uuid} (parameter volumeids) is not attached to VM {vm.name}")
        if vol.type != "DATADISK":
            raise InvalidParameter(f"Volume {vol.uuid} (parameter volumeids) is a ROOT volume; it goes with the VM")
    return [vol.uuid for vol in vols]
