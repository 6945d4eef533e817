"""`python -m broadcast.receiver --config FILE [--check]`: run a loudspeaker receiver, or only check its config."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from broadcast.receiver.config import ReceiverConfig, load_config, resolve
from device_runtime.cli import AgentProgram
from device_runtime.redact import scrub_text

if TYPE_CHECKING:
    from broadcast.receiver.app import ReceiverAgent
    from device_runtime.redact import Redactor


def _check_line(path: Path, config: ReceiverConfig) -> str:
    r = config.receiver
    cache = resolve(path.resolve().parent, config.cache.dir)
    return (
        f"config OK: {path}: receiver {r.id} in {r.district}/{r.commune}, sink {config.sink.type}, "
        f"cache {cache} ({config.cache.max_mb:g} MB)"
    )


def _start(path: Path, config: ReceiverConfig, redactor: Redactor) -> ReceiverAgent:
    # Imported only to run: `--check` stays quick.
    from broadcast.receiver.app import ReceiverAgent

    return ReceiverAgent(config, path.resolve().parent)


PROGRAM = AgentProgram(
    prog="python -m broadcast.receiver",
    description="Loudspeaker receiver agent",
    config_help="YAML config (see config/receiver.example.yaml)",
    load=load_config,
    check_line=_check_line,
    start=_start,
    logger="broadcast.receiver",
    start_errors=(OSError,),
    start_failed="cannot start: %s",
    # A config error quotes the offending line, which may hold a URL with its password (allowed_urls).
    scrub=scrub_text,
)


def main(argv: list[str] | None = None) -> int:
    return PROGRAM.main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
