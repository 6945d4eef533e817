"""What the edge agent counts about itself (logged with its stats, reported in its status)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Counters:
    probes: int = 0
    snapshots: int = 0
    commands: int = 0
    commands_rejected: int = 0
    clock_wrong: int = 0  # results and replies not sent because the system clock is not set
