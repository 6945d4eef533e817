"""`python -m broadcast.receiver --config FILE [--check]`: run a loudspeaker receiver, or only check its config."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from broadcast.receiver.config import load_config, resolve
from contract.configfile import ConfigError

if TYPE_CHECKING:
    from broadcast.receiver.app import ReceiverAgent

log = logging.getLogger("broadcast.receiver")

EXIT_CONFIG = 2


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m broadcast.receiver", description="Loudspeaker receiver agent")
    p.add_argument(
        "--config", required=True, type=Path, help="YAML config (see config/receiver.example.yaml)"
    )
    p.add_argument("--check", action="store_true", help="validate the config and exit (0 valid, 2 invalid)")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p.parse_args(argv)


async def _serve(agent: ReceiverAgent) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return await agent.run(stop)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_CONFIG
    base_dir = args.config.resolve().parent
    if args.check:
        r = config.receiver
        print(
            f"config OK: {args.config}: receiver {r.id} in {r.district}/{r.commune}, sink {config.sink.type}, "
            f"cache {resolve(base_dir, config.cache.dir)} ({config.cache.max_mb:g} MB)"
        )
        return 0
    # Imported only to run: `--check` stays quick.
    from broadcast.receiver.app import ReceiverAgent
    from device_runtime.diskqueue import DiskQueueError
    from device_runtime.logsetup import setup_logging
    from device_runtime.redact import Redactor

    setup_logging(args.log_level, Redactor(config.secrets()))
    try:
        agent = ReceiverAgent(config, base_dir)
    except (DiskQueueError, OSError) as exc:
        log.error("cannot start: %s", exc)
        return EXIT_CONFIG
    return asyncio.run(_serve(agent))


if __name__ == "__main__":
    raise SystemExit(main())
