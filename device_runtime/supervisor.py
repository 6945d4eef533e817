"""Restart budget for worker processes (in the manner of Frigate's process watchdog); the edge agent's probe
workers use it.

A worker that dies (a decoder crash, the OOM killer, someone's `kill`) or overruns its hard cap is replaced at
once, but at most `max_restarts` times within `window_s`. Past that something is wrong beyond one bad stream
(a camera whose stream crashes the decoder on every probe, a machine out of memory): restarting in a loop would
burn the CPU the healthy cameras need and hide the fault. The pool then runs short, the agent reports the
workers as failing, and the missing worker is restarted when the oldest restart leaves the window.

The decision is a pure function of the restart history and `now`, so it is tested with fixed times.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RestartBudget:
    max_restarts: int = 5
    window_s: float = 60.0

    def __post_init__(self) -> None:
        if self.max_restarts < 0:
            raise ValueError(f"max_restarts must be >= 0, got {self.max_restarts}")
        if not self.window_s > 0:
            raise ValueError(f"window_s must be > 0, got {self.window_s}")


@dataclass(frozen=True, slots=True)
class RestartDecision:
    allowed: bool
    recent: int  # restarts inside the window before this one
    retry_at: float | None = None  # when refused: the first time a restart will be allowed again


def in_window(history: Iterable[float], now: float, window_s: float) -> list[float]:
    """Restart times within (now - window_s, now], oldest first."""
    return sorted(t for t in history if now - window_s < t <= now)


def decide_restart(history: Iterable[float], now: float, budget: RestartBudget) -> RestartDecision:
    """Whether one more restart fits the budget at `now`, given the times of earlier restarts."""
    recent = in_window(history, now, budget.window_s)
    if len(recent) < budget.max_restarts:
        return RestartDecision(True, len(recent))
    if budget.max_restarts == 0:
        return RestartDecision(False, len(recent), None)
    # The restart that must leave the window before a new one fits.
    blocking = recent[len(recent) - budget.max_restarts]
    return RestartDecision(False, len(recent), blocking + budget.window_s)


class WorkerSupervisor:
    """Keeps the restart history and the counters the agent reports; decisions come from decide_restart."""

    def __init__(self, budget: RestartBudget, label: str = "worker") -> None:
        self.budget = budget
        self.label = label  # what the workers are, in log lines ("probe worker")
        self._history: deque[float] = deque()
        self.restarts = 0  # workers started to replace a lost one, since the agent started
        self.refused = 0  # replacements the budget refused (each also logged)
        self.missing = 0  # workers lost and not yet replaced: > 0 means the pool is failing
        self.retry_at: float | None = None
        self.last_cause: str | None = None

    @property
    def failing(self) -> bool:
        return self.missing > 0

    def lost(self, cause: str) -> None:
        """A worker is gone; `grant` decides when its replacement starts."""
        self.missing += 1
        self.last_cause = cause

    def grant(self, now: float) -> int:
        """How many missing workers to start now (each one counted as a restart)."""
        granted = 0
        while self.missing > 0:
            decision = decide_restart(self._history, now, self.budget)
            if not decision.allowed:
                if self.retry_at != decision.retry_at:
                    self.refused += 1
                    log.error(
                        "%s restart budget spent: %d restarts in %g s (last cause: %s); "
                        "%d worker(s) missing, next restart allowed in %s s",
                        self.label,
                        decision.recent,
                        self.budget.window_s,
                        self.last_cause,
                        self.missing,
                        "never" if decision.retry_at is None else f"{decision.retry_at - now:.0f}",
                    )
                self.retry_at = decision.retry_at
                break
            self._history.append(now)
            while self._history and self._history[0] <= now - self.budget.window_s:
                self._history.popleft()
            self.missing -= 1
            self.restarts += 1
            self.retry_at = None
            granted += 1
            log.warning(
                "%s restarted (cause: %s); %d restart(s) in the last %g s, budget %d",
                self.label,
                self.last_cause,
                decision.recent + 1,
                self.budget.window_s,
                self.budget.max_restarts,
            )
        return granted

    def forget_missing(self, count: int) -> None:
        """The pool shrank: workers no longer wanted need no replacement."""
        self.missing = max(0, self.missing - count)

    def stats(self) -> dict[str, int | bool]:
        return {
            "worker_restarts": self.restarts,
            "worker_restarts_refused": self.refused,
            "workers_missing": self.missing,
            "workers_failing": self.failing,
        }
