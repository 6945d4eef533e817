"""`python -m edge_agent --config FILE [--check]`: run the edge agent, or only validate its config."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from contract.configfile import ConfigError
from device_runtime.redact import scrub_text
from edge_agent.config import load_config
from edge_agent.status import check_publishable

if TYPE_CHECKING:
    from edge_agent.app import EdgeAgent

log = logging.getLogger("edge_agent")

EXIT_CONFIG = 2


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m edge_agent", description="Camera health edge agent")
    p.add_argument(
        "--config", required=True, type=Path, help="YAML config file (see config/edge.example.yaml)"
    )
    p.add_argument("--check", action="store_true", help="validate the config and exit (0 valid, 2 invalid)")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p.parse_args(argv)


async def _serve(agent: EdgeAgent) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return await agent.run(stop)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    try:
        config = load_config(args.config)
        check_publishable(config, str(args.config))
    except ConfigError as exc:
        # YAML errors quote the offending line, which may hold a camera URL with its password.
        print(scrub_text(str(exc)), file=sys.stderr)
        return EXIT_CONFIG
    if args.check:
        enabled = len(config.enabled_cameras())
        print(
            f"config OK: {args.config}: agent {config.agent.id}, {len(config.cameras)} cameras ({enabled} enabled)"
        )
        return 0
    # Imported only to run: `--check` stays quick (no OpenCV, no numpy).
    from device_runtime.diskqueue import DiskQueueError
    from device_runtime.logsetup import setup_logging
    from device_runtime.redact import Redactor
    from edge_agent.app import EdgeAgent

    redactor = Redactor(config.secrets())
    setup_logging(args.log_level, redactor)
    try:
        agent = EdgeAgent(config, args.config.resolve(), redactor)
    except DiskQueueError as exc:
        log.error("%s", exc)
        return EXIT_CONFIG
    return asyncio.run(_serve(agent))


if __name__ == "__main__":
    raise SystemExit(main())
