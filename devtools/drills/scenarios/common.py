"""What every scenario does around its fault: start the stack, wait for steady traffic, balance the books."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.drills import ledger
from devtools.drills.report import Outcome
from devtools.drills.stack import Stack, StackOptions


@dataclass(frozen=True)
class Scenario:
    name: str
    expected: str
    run: Callable[[Path, bool], Outcome]  # (work folder, short) → outcome


@contextlib.contextmanager
def running(workdir: Path, opts: StackOptions) -> Iterator[Stack]:
    stack = Stack(workdir, opts)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def wait(what: str, check: Callable[[], Any], within: float, poll: float = 0.3) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(poll)
    raise TimeoutError(f"timed out after {within:.0f} s waiting for {what}")


def steady(stack: Stack, within: float = 60.0) -> None:
    """Every camera judged ok by the hub, the box online, health reaching InfluxDB."""
    wait(
        "cameras ok and box online",
        lambda: (
            ledger.agent_state(stack) == "online"
            and set(ledger.camera_states(stack).values()) == {"ok"}
            and len(ledger.camera_states(stack)) == len(stack.cameras)
        ),
        within,
    )
    wait("health stored in InfluxDB", lambda: ledger.health_books(stack).total_stored > 0, within)


def books_outcome(
    name: str,
    expected: str,
    stack: Stack,
    healed_at: float,
    within: float,
    allowed: int = 0,
) -> Outcome:
    """Balance the health books after a fault healed at `healed_at` (monotonic) and say what was seen."""
    books, took = ledger.settle(stack, within, allowed)
    recover = None if took is None else time.monotonic() - healed_at
    # Final books: the box stopped cleanly, so its record is complete, then everything it sent is counted.
    stack.stop_agent()
    final, _ = ledger.settle(stack, 15, allowed)
    books = final if final.total_published else books
    twice = ledger.transitions_twice(stack)
    observed = (
        f"health {books.total_stored}/{books.total_published} stored, lost {books.lost}"
        + (f", recovered in {recover:.1f} s" if recover is not None else ", books did not balance")
        + (f", {twice} transitions twice" if twice else "")
    )
    ok = books.lost <= allowed and took is not None and twice == 0
    return Outcome(name, expected, observed, ok, books.lost, twice, recover)
