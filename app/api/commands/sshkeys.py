"""SSH key pairs: create (private key returned once), register, list, delete, reset on a VM."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from virga.api.dispatch import Pending
from virga.api.registry import Param, api
from virga.api.response import list_body
from virga.api.views.sshkeys import keypair_view
from virga.context import Ctx
from virga.errors import InvalidParameter
from virga.models import SSHKeyPair, VirtualMachine
from virga.services import sshkeys
from virga.services.states import VmState

OWNER = [
    Param("account", description="the owner account (admins)"),
    Param("domainid", "uuid", description="its domain"),
    Param("projectid", "uuid", description="unused"),
]


@api(
    "createSSHKeyPair",
    "Creates an RSA key pair; the private key is returned only now",
    "keypair",
    [Param("name", required=True, description="the name of the key pair")] + OWNER,
)
def create_keypair(ctx: Ctx) -> dict[str, Any]:
    """Generate a 2048-bit RSA key, keep the public half and hand out the private half once."""
    kp, private = sshkeys.create(ctx, ctx.args.name)
    return {"keypair": keypair_view(ctx, kp, private)}


@api(
    "registerSSHKeyPair",
    "Registers an existing public key",
    "keypair",
    [
        Param("name", required=True, description="the name of the key pair"),
        Param("publickey", required=True, description="the OpenSSH public key", length=8192),
    ]
    + OWNER,
)
def register_keypair(ctx: Ctx) -> dict[str, Any]:
    """Validate and record a public key."""
    kp = sshkeys.register(ctx, ctx.args.name, sshkeys.check_public_key(ctx.args.publickey))
    return {"keypair": keypair_view(ctx, kp)}


@api(
    "listSSHKeyPairs",
    "Lists SSH key pairs",
    "sshkeypair",
    [
        Param("name", description="the name"),
        Param("fingerprint", description="the fingerprint"),
        Param("id", "uuid", description="the key pair"),
        Param("isrecursive", "boolean", description="subdomains"),
    ]
    + OWNER,
    paged=True,
)
def list_keypairs(ctx: Ctx) -> dict[str, Any]:
    """The key pairs the caller may see (never the private keys)."""
    stmt = ctx.scope(select(SSHKeyPair), SSHKeyPair)
    if ctx.args.fingerprint:
        stmt = stmt.where(SSHKeyPair.fingerprint == ctx.args.fingerprint)
    rows, count = ctx.page(stmt, SSHKeyPair)
    return list_body("sshkeypair", [keypair_view(ctx, k) for k in rows], count)


def _find(ctx: Ctx, name: str, param: str = "name", account_id: int | None = None) -> SSHKeyPair:
    """The owner's key pair of a name, or 431."""
    acct_id = account_id if account_id is not None else ctx.owner()[0].id
    kp = ctx.db.exec(
        select(SSHKeyPair).where(SSHKeyPair.name == name, SSHKeyPair.account_id == acct_id, SSHKeyPair.removed == None)
    ).first()
    if kp is None:
        raise InvalidParameter(f"Unable to find SSH key pair {name} (parameter {param})")
    return kp


@api(
    "deleteSSHKeyPair",
    "Deletes an SSH key pair",
    "success",
    [Param("name", required=True, description="the name of the key pair")] + OWNER,
)
def delete_keypair(ctx: Ctx) -> dict[str, Any]:
    """Forget a key pair (VMs keep the key they were given)."""
    sshkeys.forget(ctx, _find(ctx, ctx.args.name))
    return {"success": True}


@api(
    "resetSSHKeyForVirtualMachine",
    "Gives a stopped VM another SSH key pair",
    "virtualmachine",
    [
        Param("id", "uuid", required=True, description="the VM"),
        Param("keypair", description="the key pair name"),
        Param("keypairs", "list", description="key pair names"),
    ]
    + OWNER,
    is_async=True,
)
def reset_key(ctx: Ctx) -> Pending:
    """Record the new key (applied by the userdata service at next boot) for a stopped VM."""
    vm = ctx.get(VirtualMachine, ctx.args.id)
    ctx.require(vm, f"VM {vm.name}")
    names = ([ctx.args.keypair] if ctx.args.keypair else []) + list(ctx.args.keypairs or [])
    if not names:
        raise InvalidParameter("Parameter keypair is required")
    if vm.state != VmState.STOPPED:
        raise InvalidParameter(f"VM {vm.name} must be stopped to reset its SSH key (it is {vm.state})")
    sshkeys.give_keys(ctx, vm, [_find(ctx, n, "keypair", vm.account_id) for n in names])
    return Pending("VirtualMachine", vm.uuid)
