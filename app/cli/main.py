"""The `virga` command: TUI (default), init, serve, api, deploy-datacenter, demo, profile, web."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import ssl
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import httpx
from virga.cli import embedded, output, profiles
from virga.client import ApiError, Credentials


def _parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    p = argparse.ArgumentParser(prog="virga", description="A CloudStack-style cloud in a box.")
    p.add_argument("--url", help="API URL of a remote virga (default: the embedded cloud)")
    p.add_argument("--profile", help="client profile name (see `virga profile`)")
    p.add_argument("--cafile", help="HTTPS: trust this CA file (e.g. the server's certificate) for --url")
    p.add_argument("--fingerprint", help="HTTPS: pin the SHA256:... fingerprint of the server's certificate")
    p.add_argument("--readonly", action="store_true", help="TUI: hide every mutating action")
    sub = p.add_subparsers(dest="cmd")
    init = sub.add_parser("init", help="create the database and the admin's password and API keys")
    init.add_argument("--force", action="store_true", help="generate new admin credentials")
    init.add_argument("--print-json", action="store_true", help="print the credentials as JSON")
    serve = sub.add_parser("serve", help="run the API server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--tls", action="store_true", help="HTTPS with the certificate made by `virga init`")
    serve.add_argument("--cert", help="HTTPS with this certificate (PEM; with --key)")
    serve.add_argument("--key", help="the private key of --cert (PEM)")
    api = sub.add_parser("api", help="call an API command: virga api listZones name=x")
    api.add_argument("command")
    api.add_argument("params", nargs="*", help="key=value")
    api.add_argument("--json", action="store_true", help="print JSON")
    api.add_argument("--no-wait", action="store_true", help="do not wait for async jobs")
    dc = sub.add_parser("deploy-datacenter", help="build zones from a YAML/JSON description")
    dc.add_argument("file")
    demo = sub.add_parser("demo", help="build the sandbox cloud on the simulator (then open the TUI)")
    demo.add_argument("--no-tui", action="store_true", help="only build the cloud")
    demo.add_argument("--vms", type=int, default=None, help="guests to deploy (3 simulated, 2 with --real)")
    demo.add_argument(
        "--real",
        action="store_true",
        help="a zone on this machine's libvirt (qemu:///system) with the tiny guest template",
    )
    demo.add_argument("--destroy", action="store_true", help="with --real: remove the real demo")
    bk = sub.add_parser("backup", help="back up virga itself (online): database, key file, router state")
    bk.add_argument("file", help="the backup file to write (tar.gz, mode 0600)")
    rs = sub.add_parser("restore", help="restore a backup into a fresh data directory (no server running)")
    rs.add_argument("file", help="a file written by virga backup")
    prof = sub.add_parser("profile", help="manage client profiles")
    prof.add_argument("action", choices=["list", "add", "use"])
    prof.add_argument("name", nargs="?")
    prof.add_argument("url", nargs="?")
    prof.add_argument("apikey", nargs="?")
    prof.add_argument("secretkey", nargs="?")
    prof.add_argument("--cafile", help="HTTPS: trust this CA file (e.g. the server's self-signed certificate)")
    prof.add_argument("--fingerprint", help="HTTPS: pin the server certificate's SHA256:... fingerprint")
    for kind, cmd in (("template", "Template"), ("iso", "Iso"), ("volume", "Volume")):
        tmpl = sub.add_parser(kind, help=f"{kind}s: virga {kind} upload FILE [name=... zoneid=...]")
        tmpl.add_argument("action", choices=["upload"])
        tmpl.add_argument("file")
        tmpl.add_argument("params", nargs="*", help=f"key=value (getUploadParamsFor{cmd} parameters)")
    from virga.cli.console import add_parser as add_console_parser

    add_console_parser(sub)
    from virga.cli.learn import add_parser as add_learn_parser

    add_learn_parser(sub)
    web = sub.add_parser("web", help="serve the TUI in a browser (textual-serve)")
    web.add_argument("--host", default="127.0.0.1")
    web.add_argument("--port", type=int, default=8000)
    return p


def parse_params(items: list[str]) -> dict[str, Any]:
    """key=value arguments; name[0].key=value stays as CloudStack map syntax."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"virga: expected key=value, got {item!r}")
        key, value = item.split("=", 1)
        out[key] = value
    return out


async def cmd_init(args: argparse.Namespace) -> int:
    """Initialise the embedded cloud and save the admin's credentials (shown once)."""
    import json

    from virga.cli.datalock import DataDirBusy, hold, uses_data_dir

    try:
        with hold("virga init") if uses_data_dir() else nullcontext():
            app = embedded.VirgaApp(embedded.settings())
            await app.start()
            try:
                creds, created = embedded.ensure_admin(app, force=args.force)
            finally:
                await app.stop()
    except DataDirBusy:  # a server runs on this data dir (the appliance's first boot): write only its database
        creds, created = _admin_in_database(args.force)
    if not created:
        print(f"virga is already initialised (credentials in {profiles.path()}); use --force for new ones")
        return 0
    where = profiles.put("default", "", creds, make_default=True)
    data = {"username": "admin", "password": creds.password, "apikey": creds.apikey, "secretkey": creds.secretkey}
    from virga import tls

    cert, _, _ = tls.ensure_cert()  # for virga serve --tls
    data["certificate"] = f"{cert} ({tls.fingerprint_of_pem(cert.read_text())})"
    if args.print_json:
        print(json.dumps(data))
    else:
        print(f"virga initialised. Root admin credentials (shown once; saved with mode 0600 in {where}):")
        for k, v in data.items():
            print(f"  {k:10} {v}")
    return 0


def _admin_in_database(force: bool) -> tuple[Credentials, bool]:
    """The admin's credentials written straight into the running server's database (no second server started)."""
    from types import SimpleNamespace

    from virga.db import Database
    from virga.services.secrets import check_key

    db = Database(embedded.settings().db_url)
    try:
        check_key(db.engine)
        return embedded.ensure_admin(SimpleNamespace(db=db), force=force)  # type: ignore[arg-type]
    finally:
        db.dispose()


def _creds(args: argparse.Namespace) -> tuple[str, Credentials]:
    """The URL and credentials to use: --url with a profile's keys, or the profile alone."""
    try:
        url, creds = profiles.get(args.profile)
    except SystemExit:
        if args.url or args.profile:
            raise
        url, creds = "", Credentials()
    if getattr(args, "cafile", None):  # --cafile/--fingerprint (the TUI and every command) over the profile's
        creds.cafile = os.path.abspath(args.cafile)
    if getattr(args, "fingerprint", None):
        creds.fingerprint = args.fingerprint
    return (args.url or url), creds


async def cmd_api(args: argparse.Namespace) -> int:
    """Run one API command and print its answer."""
    url, creds = _creds(args)
    params = parse_params(args.params)
    async with embedded.connect(url, creds) as client:
        try:
            body = await client.call(args.command, **params)
            if "jobid" in body and not args.no_wait:
                body = await client.wait(body["jobid"], progress=None if args.json else output.spinner)
        except ApiError as err:
            print(f"Error {err.code}: {err.text}", file=sys.stderr)
            return 1
    output.show(body, "json" if args.json else "table")
    return 0


async def cmd_template(args: argparse.Namespace) -> int:
    """Upload a template file (virga.cli.template)."""
    from virga.cli.template import cmd_template as run

    url, creds = _creds(args)
    async with embedded.connect(url, creds) as client:
        return await run(args, client)


async def cmd_datacenter(args: argparse.Namespace) -> int:
    """Build the zones of a description file."""
    from virga.cli.datacenter import deploy, load

    url, creds = _creds(args)
    async with embedded.connect(url, creds) as client:
        try:
            zones = await deploy(client, load(args.file))
        except ApiError as err:
            print(f"Error {err.code}: {err.text}", file=sys.stderr)
            return 1
    print(f"{len(zones)} zone(s) ready")
    return 0


async def cmd_demo(args: argparse.Namespace) -> int:
    """Build the sandbox cloud unless it exists (--real: on this machine's libvirt, see virga.cli.real.command)."""
    from virga.cli.demo import build

    url, creds = _creds(args)
    if args.real or args.destroy:
        from virga.cli.real.command import cmd_real

        return await cmd_real(args, url, creds)
    async with embedded.connect(url, creds) as client:
        if await client.list("listZones", "zone", name="sandbox"):
            print("the sandbox zone exists already")
            return 0
        try:
            await build(client, vms=3 if args.vms is None else args.vms)
        except ApiError as err:
            print(f"Error {err.code}: {err.text}", file=sys.stderr)
            return 1
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the API server with uvicorn."""
    import uvicorn
    from virga.api.server import make_asgi
    from virga.cli.datalock import hold, uses_data_dir
    from virga.config import Settings
    from virga.core import VirgaApp
    from virga.services.secrets import check_key

    app = VirgaApp(Settings(simulator_state=embedded.settings().simulator_state))
    tls = _tls_files(args)
    with hold(f"virga serve on {args.host}:{args.port}") if uses_data_dir() else nullcontext() as lock:
        if lock is not None:  # a second virga on this data dir talks to this server instead of starting one
            from virga.cli.datalock import advertise

            host = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host
            reach = {"url": f"{'https' if tls else 'http'}://{host}:{args.port}"}
            advertise(lock, **reach, **({"cafile": str(tls[0])} if tls else {}))
        check_key(app.db.engine)  # before uvicorn, so that a missing key is one clear line, not a traceback
        cert, key = (str(tls[0]), str(tls[1])) if tls else (None, None)
        uvicorn.run(
            make_asgi(app), host=args.host, port=args.port, log_level="warning", ssl_certfile=cert, ssl_keyfile=key
        )
    return 0


def _tls_files(args: argparse.Namespace) -> tuple[Path, Path] | None:
    """The certificate and key `virga serve` uses (--cert/--key, or --tls: init's), printed with the fingerprint."""
    from virga import tls

    if bool(args.cert) != bool(args.key):
        raise SystemExit("virga: --cert and --key go together")
    if args.cert:
        files = (Path(args.cert), Path(args.key))
    elif args.tls:
        cert, key, _ = tls.ensure_cert()
        files = (cert, key)
    else:
        return None
    fp = tls.fingerprint_of_pem(files[0].read_text())
    print(f"virga: serving https://{args.host}:{args.port}/client/api, certificate {fp}", file=sys.stderr, flush=True)
    return files


def cmd_backup(args: argparse.Namespace) -> int:
    """virga backup FILE (online) and virga restore FILE (into a fresh data directory, holding its lock)."""
    from virga.cli import backup
    from virga.cli.datalock import hold

    try:
        if args.cmd == "backup":
            made = backup.backup(Path(args.file))
            print(f"virga: backup written to {args.file} ({', '.join(made['files'])})")
            return 0
        with hold("virga restore"):
            manifest = backup.restore(Path(args.file))
        print(f"virga: restored the backup of {manifest.get('created')} into {embedded.data_dir()}")
        return 0
    except backup.BackupError as err:
        print(f"virga: {err}", file=sys.stderr)
        return 1


def cmd_profile(args: argparse.Namespace) -> int:
    """List, add or select client profiles."""
    data = profiles.load()
    if args.action == "list":
        for name, prof in data.get("profiles", {}).items():
            mark = "*" if name == data.get("default") else " "
            print(f"{mark} {name:12} {prof.get('url') or '(embedded)'}")
        return 0
    if not args.name:
        raise SystemExit("virga: profile name required")
    if args.action == "add":
        creds = Credentials(apikey=args.apikey or "", secretkey=args.secretkey or "")
        creds.cafile, creds.fingerprint = os.path.abspath(args.cafile) if args.cafile else "", args.fingerprint or ""
        profiles.put(args.name, args.url or "", creds)
    else:
        if args.name not in data.get("profiles", {}):
            raise SystemExit(f"virga: no profile {args.name!r}")
        data["default"] = args.name
        profiles.save(data)
    return 0


def cmd_tui(args: argparse.Namespace) -> int:
    """Open the TUI on the embedded cloud or a remote one."""
    from virga.cli.tui import run_tui

    url, creds = _creds(args)
    return run_tui(url, creds, readonly=args.readonly)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `virga` console script: a missing key, a busy data dir, a TLS refusal: one clear line."""
    from virga.cli.datalock import DataDirBusy
    from virga.services.secrets import KeyMissing

    try:
        return _main(argv)
    except (KeyMissing, DataDirBusy) as err:
        print(err, file=sys.stderr)
        return 2
    except ssl.SSLError as err:  # a pinned fingerprint that does not match
        print(f"virga: TLS: {err}", file=sys.stderr)
        return 2
    except httpx.ConnectError as err:  # nobody listens, or a certificate nobody vouched for (--cafile/--fingerprint)
        print(f"virga: cannot connect: {err}", file=sys.stderr)
        return 2


def _main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the command."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    runners = {
        "init": cmd_init,
        "api": cmd_api,
        "deploy-datacenter": cmd_datacenter,
        "demo": cmd_demo,
        "template": cmd_template,
        "iso": cmd_template,
        "volume": cmd_template,
    }
    if args.cmd == "console":
        from virga.cli.console import cmd_console

        runners["console"] = cmd_console
    if args.cmd in runners:
        code = asyncio.run(runners[args.cmd](args))
        if args.cmd == "demo" and code == 0 and not args.no_tui and not args.destroy:
            return cmd_tui(args)
        return code
    if args.cmd == "serve":
        return cmd_serve(args)
    if args.cmd == "profile":
        return cmd_profile(args)
    if args.cmd in ("backup", "restore"):
        return cmd_backup(args)
    if args.cmd == "learn":
        from virga.cli.learn import cmd_learn

        return cmd_learn(args)
    if args.cmd == "web":
        from virga.cli.tui import serve_web, tui_flags

        return serve_web(args.host, args.port, tui_flags(args.url, args.profile, args.readonly))
    return cmd_tui(args)


if __name__ == "__main__":
    sys.exit(main())
