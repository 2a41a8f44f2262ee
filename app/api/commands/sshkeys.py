"""SSH key pairs: create (private key returned once), register, list, delete, reset on a VM."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlmodel import select
from virga.api.dispatch import Pending
from virga.api.registry import Param, api
from virga.api.response import clean, list_body
from virga.api.views.common import owner
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.errors import InvalidParameter
from virga.jobs.engine import JobRun, job_body
from virga.models import SSHKeyPair, VirtualMachine, utcnow
from virga.services.events import record_event

FIELDS["sshkeypair"] = FIELDS["keypair"] = "id name fingerprint privatekey account domainid domain domainpath"
NAME = re.compile(r"^[A-Za-z0-9_.@+-]{1,255}$")
OWNER = [
    Param("account", description="the owner account (admins)"),
    Param("domainid", "uuid", description="its domain"),
    Param("projectid", "uuid", description="unused"),
]


def fingerprint(public: str) -> str:
    """The MD5 fingerprint (aa:bb:...) of an OpenSSH public key."""
    blob = base64.b64decode(public.split()[1])
    digest = hashlib.md5(blob).hexdigest()  # noqa: S324  (SSH's fingerprint format, not a security use)
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def check_public_key(text: str) -> str:
    """An OpenSSH public key, normalised to one line, or 431."""
    line = " ".join(text.strip().split())
    try:
        serialization.load_ssh_public_key(line.encode())
        base64.b64decode(line.split()[1], validate=True)
    except (ValueError, IndexError, binascii.Error, TypeError):
        raise InvalidParameter("Parameter publickey is not a valid OpenSSH public key") from None
    return line


def keypair_view(ctx: Ctx, kp: SSHKeyPair, private: str | None = None) -> dict[str, Any]:
    """An sshkeypair response object."""
    return clean(
        {"id": kp.uuid, "name": kp.name, "fingerprint": kp.fingerprint, "privatekey": private, **owner(ctx, kp)}
    )


def _new(ctx: Ctx, name: str, public: str) -> SSHKeyPair:
    """Record a key pair for the owner, refusing a name or key the account already has."""
    if not NAME.match(name):
        raise InvalidParameter("Parameter name must be 1-255 letters, digits or _.@+-")
    account, domain = ctx.owner()
    fp = fingerprint(public)
    for kp in ctx.db.exec(select(SSHKeyPair).where(SSHKeyPair.account_id == account.id, SSHKeyPair.removed == None)):
        if kp.name == name:
            raise InvalidParameter(f"A key pair named {name} already exists (parameter name)")
        if kp.fingerprint == fp:
            raise InvalidParameter(f"This public key is already registered as key pair {kp.name} (parameter publickey)")
    kp = SSHKeyPair(name=name, fingerprint=fp, publickey=public, account_id=account.id or 0, domain_id=domain.id or 0)
    ctx.db.add(kp)
    ctx.db.flush()
    record_event(
        ctx.db,
        "REGISTER.SSH.KEYPAIR",
        f"Registered SSH key pair {name}",
        account_id=account.id,
        domain_id=domain.id,
        user_id=ctx.user.id,
    )
    return kp


@api(
    "createSSHKeyPair",
    "Creates an RSA key pair; the private key is returned only now",
    "keypair",
    [Param("name", required=True, description="the name of the key pair")] + OWNER,
)
def create_keypair(ctx: Ctx) -> dict[str, Any]:
    """Generate a 2048-bit RSA key, keep the public half and hand out the private half once."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    kp = _new(ctx, ctx.args.name, public)
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
    kp = _new(ctx, ctx.args.name, check_public_key(ctx.args.publickey))
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
    kp = _find(ctx, ctx.args.name)
    kp.removed = utcnow()
    ctx.db.add(kp)
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
    if vm.state != "Stopped":
        raise InvalidParameter(f"VM {vm.name} must be stopped to reset its SSH key (it is {vm.state})")
    kps = [_find(ctx, n, "keypair", vm.account_id) for n in names]
    vm.keypair = ",".join(k.name for k in kps)
    ctx.db.add(vm)
    return Pending("VirtualMachine", vm.uuid)


@job_body("resetSSHKeyForVirtualMachine")
async def reset_key_body(run: JobRun) -> dict[str, Any]:
    """The key is recorded already; the result is the VM."""
    from virga.services.vm import result

    return result(run)
