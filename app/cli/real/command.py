"""`virga demo --real [--destroy]`: check this machine, then build (or remove) the real demo."""

from __future__ import annotations

import argparse
import sys

from virga.appliance.storage.errors import StorageError
from virga.cli import embedded
from virga.cli.guestimage import GuestImageError
from virga.cli.real.check import PrerequisiteError, check
from virga.client import ApiError, Credentials

FAILURES = (PrerequisiteError, GuestImageError, StorageError, ApiError, RuntimeError, OSError)


def _say(text: str) -> None:
    """Print a progress line at once."""
    print(text, flush=True)


async def cmd_real(args: argparse.Namespace, url: str, creds: Credentials) -> int:
    """Build the real demo (or remove it with --destroy); 1 with a clear message when a step fails."""
    from virga.cli.real.build import build_real
    from virga.cli.real.teardown import destroy_all

    try:
        if not args.destroy:
            for warning in await check(url):
                _say(f"note: {warning}")
        async with embedded.connect(url, creds) as client:
            if args.destroy:
                return 1 if await destroy_all(client, _say) else 0
            await build_real(client, _say, vms=2 if args.vms is None else args.vms)
    except FAILURES as exc:
        text = f"Error {exc.code}: {exc.text}" if isinstance(exc, ApiError) else str(exc)
        print(f"virga: {text}", file=sys.stderr)
        return 1
    return 0
