"""The vmsnapshot response object."""

from __future__ import annotations

from typing import Any

from virga.api.response import clean
from virga.api.views.common import owner, preload_owners, ref, tags_of
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.models import VirtualMachine, VMSnapshot, Zone

FIELDS["vmsnapshot"] = (
    "id name displayname description state type current parent parentName created virtualmachineid "
    "virtualmachinename zoneid zonename hypervisor tags account domainid domain domainpath"
)


def vmsnapshot_view(ctx: Ctx, v: VMSnapshot) -> dict[str, Any]:
    """A vmsnapshot response object."""
    vm = ctx.by_id(VirtualMachine, v.vm_id)
    parent = ctx.by_id(VMSnapshot, v.parent_id)
    return clean(
        {
            "id": v.uuid,
            "name": v.name,
            "displayname": v.displayname or v.name,
            "description": v.description or None,
            "state": v.state,
            "type": v.type,
            "current": v.current,
            "created": v.created,
            "parent": parent.uuid if parent else None,
            "parentName": parent.name if parent else None,
            "virtualmachineid": vm.uuid if vm else None,
            "virtualmachinename": vm.name if vm else None,
            "hypervisor": vm.hypervisor if vm else None,
            **ref(ctx, Zone, v.zone_id, "zone"),
            **owner(ctx, v),
            "tags": tags_of(ctx, "VMSnapshot", [v]).get(v.id or 0, []),
        }
    )


def vmsnapshot_views(ctx: Ctx, rows: list[VMSnapshot]) -> list[dict[str, Any]]:
    """Many vmsnapshot response objects, their owners and VMs preloaded."""
    preload_owners(ctx, rows)
    ctx.preload(VirtualMachine, {r.vm_id for r in rows})
    return [vmsnapshot_view(ctx, r) for r in rows]


RENDERERS = {VMSnapshot: ("vmsnapshot", vmsnapshot_views)}
