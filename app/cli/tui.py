"""Start the TUI on the embedded cloud or a remote one, or serve it in a browser."""

from __future__ import annotations

import asyncio
import shlex
import sys

from virga.cli import embedded
from virga.client import Credentials


def run_tui(url: str, creds: Credentials, readonly: bool = False) -> int:
    """Run the full-screen TUI until the user quits."""
    try:
        from virga.tui import make_app
    except ImportError as exc:
        print(f"virga: the TUI is not available in this build ({exc}); try `virga api listZones`", file=sys.stderr)
        return 2

    from virga.cli.learn import session_path

    async def main() -> None:
        async with embedded.connect(url, creds) as client:
            app = make_app(
                client, readonly=readonly, title="virga", profile=url or "embedded", learn_file=session_path()
            )
            await app.run_async()

    asyncio.run(main())
    return 0


def tui_flags(url: str | None, profile: str | None, readonly: bool) -> list[str]:
    """The global flags that choose the TUI's server, as arguments for a `virga` child."""
    out = [*(["--url", url] if url else []), *(["--profile", profile] if profile else [])]
    return out + (["--readonly"] if readonly else [])


def serve_web(host: str, port: int, tui_args: list[str] | None = None) -> int:
    """Serve the TUI in a browser with textual-serve (every visitor gets their own session).

    tui_args (--url, --profile, --readonly) are passed to each session's `virga`.
    """
    from textual_serve.server import Server

    command = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "virga.cli.main", *(tui_args or [])])
    Server(command, host=host, port=port, title="virga").serve()
    return 0
