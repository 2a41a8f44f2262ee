"""`python -m virga.appliance.router`: the router supervisor of an appliance host.

It rebuilds the netns routers the database says are Running but this host lacks (after a reboot),
removes routers whose network is gone, and restarts dead router services (alerts + events), every
--interval seconds. The routers' processes outlive it: stopping the supervisor stops no router.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from virga.config import Settings
from virga.core import VirgaApp

log = logging.getLogger("virga.router.supervisor")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    ap = argparse.ArgumentParser(
        prog="python -m virga.appliance.router",
        description="Router supervisor: rebuild routers from the database, heal them.",
    )
    ap.add_argument("--db-url", help="the management database (default: VIRGA_DB_URL or the data directory)")
    ap.add_argument("--interval", type=float, help="seconds between rounds (default: VIRGA_SYNC_INTERVAL, 30)")
    ap.add_argument("--once", action="store_true", help="one round, then exit")
    return ap.parse_args(argv)


async def one_round(app: VirgaApp) -> None:
    """Reconcile the routers with the database, then heal dead services; failures are logged, not fatal."""
    from virga.services.routing import check_routers, reconcile_routers

    try:
        for line in await reconcile_routers(app):
            log.info("%s", line)
        await check_routers(app)
    except Exception as exc:  # the database may not be ready yet: try again next round
        log.warning("router supervision round failed: %s", exc)


async def supervise(app: VirgaApp, interval: float, once: bool = False) -> None:
    """Run rounds until SIGTERM/SIGINT (or after one round with once)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("router supervisor started (database %s, every %.0f s)", app.settings.db_url, interval)
    while not stop.is_set():
        await one_round(app)
        if once:
            break
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except TimeoutError:
            pass
    log.info("router supervisor stopped")


def main(argv: list[str] | None = None) -> None:
    """Entry point: build an app handle (no job engine, no API) and supervise."""
    args = parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = Settings(db_url=args.db_url) if args.db_url else Settings()
    app = VirgaApp(settings)
    try:
        asyncio.run(supervise(app, args.interval or settings.sync_interval, args.once))
    finally:
        app.db.dispose()


if __name__ == "__main__":
    main()
