"""`python -m hub run`: the hub runtime plus this web app on config.http, stopped cleanly by SIGTERM/SIGINT.

With several hubs, `--role ingest` runs no web server and `--role web` no ingest and no leader work (its pages,
API and live events come from SQL and the other hubs' relayed events)."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from hub.core.config import CoreConfig

log = logging.getLogger("hub")
SHUTDOWN_TIMEOUT_S = 3.0  # open requests get this long; live streams end at once (on_shutdown)


async def serve(config: CoreConfig, stop: asyncio.Event | None = None, role: str = "all") -> int:
    """Runs until `stop` is set or a termination signal arrives. Returns a process exit code."""
    from hub.compose import (  # every feature is only needed here, not by the CLI's other commands
        Hub,
        create_app,
    )
    from hub.migrations import schema

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    hub = Hub(config, prepare_schema=lambda db: schema.prepare(db, config.database.auto_upgrade), role=role)
    try:
        await hub.start()
    except BaseException:
        await hub.stop()  # a refused schema stops the start before MQTT: only the database to close
        raise
    if role == "ingest":
        try:
            log.info("hub %s: ingest only (no web server)", hub.hub_id)
            await stop.wait()
            log.info("stopping")
        finally:
            await hub.stop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        return 0
    runner = web.AppRunner(
        create_app(config, hub.db, hub.events, hub.stats.snapshot, hub=hub),
        shutdown_timeout=SHUTDOWN_TIMEOUT_S,
    )
    try:
        await runner.setup()
        site = web.TCPSite(runner, config.http.host, config.http.port)
        try:
            await site.start()
        except OSError as exc:
            log.error("cannot listen on %s:%d: %s", config.http.host, config.http.port, exc.strerror or exc)
            return 1
        log.info(
            "hub web listening on http://%s:%d (public URL %s)",
            config.http.host,
            config.http.port,
            config.http.public_url,
        )
        await stop.wait()
        log.info("stopping")
    finally:
        await runner.cleanup()
        await hub.stop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        log.info("stopped")
    return 0
