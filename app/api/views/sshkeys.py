"""The sshkeypair (keypair) response object."""

from __future__ import annotations

from typing import Any

from virga.api.response import clean
from virga.api.views.common import owner
from virga.api.views.fields import FIELDS
from virga.context import Ctx
from virga.models import SSHKeyPair

FIELDS["sshkeypair"] = FIELDS["keypair"] = "id name fingerprint privatekey account domainid domain domainpath"


def keypair_view(ctx: Ctx, kp: SSHKeyPair, private: str | None = None) -> dict[str, Any]:
    """An sshkeypair response object (the private key only when it was just made)."""
    return clean(
        {"id": kp.uuid, "name": kp.name, "fingerprint": kp.fingerprint, "privatekey": private, **owner(ctx, kp)}
    )
