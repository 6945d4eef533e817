"""The command line both device agents share: `python -m <agent> --config FILE [--check] [--log-level L]`.

Reads and validates the config (errors on stderr, exit code 2), answers `--check` with one line, or sets up
logging (secrets scrubbed), builds the agent and runs it until SIGTERM or SIGINT; the exit code is the agent's.
What differs between the agents (how the config is loaded, the `--check` line, how the agent is built, which
start errors count as a config problem) comes in as an `AgentProgram`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from contract.configfile import ConfigError

if TYPE_CHECKING:
    from device_runtime.redact import Redactor

EXIT_CONFIG = 2
LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]


class AgentConfig(Protocol):
    def secrets(self) -> list[str]: ...


class Runnable(Protocol):
    async def run(self, stop: asyncio.Event) -> int: ...


C = TypeVar("C", bound=AgentConfig)


def _unchanged(text: str) -> str:
    return text


@dataclass(frozen=True)
class AgentProgram(Generic[C]):
    prog: str  # shown in --help, e.g. "python -m edge_agent"
    description: str
    config_help: str
    load: Callable[[Path], C]  # raises ConfigError
    check_line: Callable[[Path, C], str]  # what `--check` prints for a valid config
    # Builds the agent (imports what only running needs); the redactor is the one the logs use.
    start: Callable[[Path, C, Redactor], Runnable]
    logger: str  # the logger that reports a failed start
    start_errors: tuple[type[Exception], ...] = ()  # besides DiskQueueError: a failed start, exit code 2
    start_failed: str = "%s"  # how a failed start is logged
    scrub: Callable[[str], str] = _unchanged  # applied to config errors before they are printed

    def arguments(self, argv: list[str] | None) -> argparse.Namespace:
        p = argparse.ArgumentParser(prog=self.prog, description=self.description)
        p.add_argument("--config", required=True, type=Path, help=self.config_help)
        p.add_argument(
            "--check", action="store_true", help="validate the config and exit (0 valid, 2 invalid)"
        )
        p.add_argument("--log-level", default="INFO", choices=LOG_LEVELS)
        return p.parse_args(argv)

    def main(self, argv: list[str] | None = None) -> int:
        args = self.arguments(argv)
        try:
            config = self.load(args.config)
        except ConfigError as exc:
            print(self.scrub(str(exc)), file=sys.stderr)
            return EXIT_CONFIG
        if args.check:
            print(self.check_line(args.config, config))
            return 0
        # Imported only to run: `--check` stays quick.
        from device_runtime.diskqueue import DiskQueueError
        from device_runtime.logsetup import setup_logging
        from device_runtime.redact import Redactor

        redactor = Redactor(config.secrets())
        setup_logging(args.log_level, redactor)
        start_errors: tuple[type[Exception], ...] = (DiskQueueError, *self.start_errors)
        try:
            agent = self.start(args.config, config, redactor)
        except start_errors as exc:
            logging.getLogger(self.logger).error(self.start_failed, exc)
            return EXIT_CONFIG
        return asyncio.run(serve(agent))


async def serve(agent: Runnable) -> int:
    """Run the agent until SIGTERM or SIGINT; its exit code."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return await agent.run(stop)
