"""Running external tools (qemu-img, nfs-cp...) as typed-error-raising async calls."""

from __future__ import annotations

import asyncio
import json
import shutil
from typing import Any

from .errors import ToolError


def need_tool(name: str, package: str) -> str:
    """Path of a tool on PATH, or ToolError naming the package to install."""
    path = shutil.which(name)
    if path is None:
        raise ToolError(f"{name} is not installed (install the {package} package)")
    return path


async def run(*argv: str, timeout: float | None = None, package: str = "qemu-utils") -> str:
    """Run a command; return stdout; raise ToolError with stderr on failure or timeout."""
    need_tool(argv[0], package)
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise ToolError(f"{argv[0]} {argv[1] if len(argv) > 1 else ''} timed out after {timeout:g}s") from None
    except asyncio.CancelledError:
        proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        text = err.decode(errors="replace").strip() or out.decode(errors="replace").strip()
        raise ToolError(f"{argv[0]} {argv[1] if len(argv) > 1 else ''} failed (exit {proc.returncode}): {text}")
    return out.decode(errors="replace")


async def qemu_img_info(path: str, fmt: str | None = None, *, force_share: bool = False) -> dict[str, Any]:
    """`qemu-img info --output=json` of a local path or nfs:// URL."""
    argv = ["qemu-img", "info", "--output=json"] + (["-U"] if force_share else [])
    if fmt:
        argv += ["-f", fmt]
    out = await run(*argv, path, timeout=120)
    return dict(json.loads(out))


async def qemu_img_convert(src: str, dst: str, src_fmt: str, dst_fmt: str = "qcow2", *, sparse: bool = True) -> None:
    """`qemu-img convert` between local paths and/or nfs:// URLs (flushed at the end)."""
    argv = ["qemu-img", "convert", "-f", src_fmt, "-O", dst_fmt]
    if not sparse:
        argv += ["-S", "0"]
    await run(*argv, src, dst)


async def qemu_img_compare(a: str, b: str, fmt_a: str | None = None, fmt_b: str | None = None) -> bool:
    """True when two images have the same guest-visible content (`qemu-img compare`)."""
    argv = ["qemu-img", "compare"]
    if fmt_a:
        argv += ["-f", fmt_a]
    if fmt_b:
        argv += ["-F", fmt_b]
    proc = await asyncio.create_subprocess_exec(
        *argv, a, b, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    if proc.returncode in (0, 1):
        return proc.returncode == 0
    raise ToolError(f"qemu-img compare failed (exit {proc.returncode}): {err.decode(errors='replace').strip()}")
