"""`python -m edge_agent --config FILE [--check]`: run the edge agent, or only validate its config."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from device_runtime.cli import AgentProgram
from device_runtime.redact import scrub_text
from edge_agent.config import EdgeConfig, load_config
from edge_agent.status import check_publishable

if TYPE_CHECKING:
    from device_runtime.redact import Redactor
    from edge_agent.app import EdgeAgent


def _load(path: Path) -> EdgeConfig:
    config = load_config(path)
    check_publishable(config, str(path))
    return config


def _check_line(path: Path, config: EdgeConfig) -> str:
    enabled = len(config.enabled_cameras())
    return f"config OK: {path}: agent {config.agent.id}, {len(config.cameras)} cameras ({enabled} enabled)"


def _start(path: Path, config: EdgeConfig, redactor: Redactor) -> EdgeAgent:
    # Imported only to run: `--check` stays quick (no OpenCV, no numpy).
    from edge_agent.app import EdgeAgent

    return EdgeAgent(config, path.resolve(), redactor)


PROGRAM = AgentProgram(
    prog="python -m edge_agent",
    description="Camera health edge agent",
    config_help="YAML config file (see config/edge.example.yaml)",
    load=_load,
    check_line=_check_line,
    start=_start,
    logger="edge_agent",
    # YAML errors quote the offending line, which may hold a camera URL with its password.
    scrub=scrub_text,
)


def main(argv: list[str] | None = None) -> int:
    return PROGRAM.main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
