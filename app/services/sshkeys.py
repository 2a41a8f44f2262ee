"""SSH key pairs: keys made or registered for an account, forgotten, and given to stopped VMs."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlmodel import select
from virga.context import Ctx
from virga.errors import InvalidParameter
from virga.jobs.engine import JobRun, Ref, Restart, job_body
from virga.models import SSHKeyPair, VirtualMachine, utcnow
from virga.services.events import record_event

NAME = re.compile(r"^[A-Za-z0-9_.@+-]{1,255}$")


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
    except (ValueError, IndexError, binascii.Error, TypeError, UnsupportedAlgorithm):
        raise InvalidParameter("Parameter publickey is not a valid OpenSSH public key") from None
    return line


def create(ctx: Ctx, name: str) -> tuple[SSHKeyPair, str]:
    """A new 2048-bit RSA key pair recorded for the owner: (its row, the PEM private key, never stored)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    return register(ctx, name, public), private


def register(ctx: Ctx, name: str, public: str) -> SSHKeyPair:
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


def forget(ctx: Ctx, kp: SSHKeyPair) -> None:
    """Remove a key pair (VMs keep the key they were given)."""
    kp.removed = utcnow()
    ctx.db.add(kp)


def give_keys(ctx: Ctx, vm: VirtualMachine, kps: list[SSHKeyPair]) -> None:
    """Record a stopped VM's new key pairs (the userdata service hands them out at next boot)."""
    vm.keypair = ",".join(k.name for k in kps)
    ctx.db.add(vm)


@job_body("resetSSHKeyForVirtualMachine", restart=Restart.FAIL)
async def reset_key(run: JobRun) -> Ref:
    """The key was recorded with the request (nothing changes outside the database): the result is the VM."""
    return Ref(VirtualMachine, run.instance_uuid)
